/**
 * Zstandard for Kafka record batches, from Node's own `zlib` (Node 22.15 and later): zstd frames as the Java
 * client (zstd-jni) and librdkafka write them, with or without the content size in the frame header.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const compress = promisify(zlib.zstdCompress);
const decompress = promisify(zlib.zstdDecompress);

/** Kafka's default zstd level (3). */
const level = 3;

export function zstdCompress(data: Buffer): Promise<Buffer> {
  return compress(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
}

/**
 * Output chunks of the asynchronous decompressor: a batch decompresses to hundreds of KiB, and each chunk is
 * one round trip to the thread pool (zlib's default is 16 KiB).
 */
export const decompressChunkBytes = 256 * 1024;

/** At most `maxOutputBytes` decompressed (a bound against a batch that expands without limit). */
export function zstdDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  return decompress(data, { maxOutputLength: maxOutputBytes, chunkSize: decompressChunkBytes });
}
