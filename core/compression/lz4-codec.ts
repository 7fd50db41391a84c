/**
 * LZ4 for Kafka record batches: the LZ4 frame format (magic `04 22 4D 18`), as Kafka's Java client (its own
 * frame writer, 64 KiB independent blocks) and librdkafka (lz4frame) write it. The `lz4-napi` package (napi-rs
 * over lz4_flex, prebuilt binaries published as npm packages) reads and writes it; its reader checks the
 * block and content checksums when a frame carries them.
 */
import { compressFrame, decompressFrame } from 'lz4-napi';

export function lz4Compress(data: Buffer): Promise<Buffer> {
  return compressFrame(data);
}

export function lz4Decompress(data: Buffer): Promise<Buffer> {
  return decompressFrame(data);
}
