/**
 * Snappy for Kafka record batches. Kafka's Java producer writes snappy-java's "xerial" framing (a 16-byte
 * header, then blocks of at most 32 KiB, each an int32 big-endian length and a raw snappy block); librdkafka,
 * Go and Python clients write one raw snappy block. Both are read; the xerial framing is written, as the Java
 * producer does, which every client reads (snappy-java falls back to raw data, librdkafka reads both).
 * The snappy itself is the `snappy` package (napi-rs, prebuilt binaries published as npm packages).
 */
import { compress, uncompress } from 'snappy';

/** `\x82SNAPPY\0`: the first 8 bytes of snappy-java's framing. */
const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const xerialHeaderBytes = 16;
/** snappy-java's default block size, used by Kafka's Java producer. */
const xerialBlockBytes = 32 * 1024;

export function isXerialFramed(data: Buffer): boolean {
  return data.length >= xerialHeaderBytes && data.subarray(0, xerialMagic.length).equals(xerialMagic);
}

/** Compresses `data` in the xerial framing (version 1, compatible with 1). */
export async function snappyCompress(data: Buffer): Promise<Buffer> {
  const header = Buffer.alloc(xerialHeaderBytes);
  xerialMagic.copy(header);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (let start = 0; start < data.length; start += xerialBlockBytes) {
    const block = await compress(data.subarray(start, start + xerialBlockBytes));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Decompresses xerial-framed or raw snappy. Throws on a truncated frame or a corrupt block. */
export async function snappyDecompress(data: Buffer): Promise<Buffer> {
  if (!isXerialFramed(data)) return (await uncompress(data, { asBuffer: true })) as Buffer;
  const blocks: Buffer[] = [];
  let position = xerialHeaderBytes;
  while (position < data.length) {
    if (position + 4 > data.length) throw new Error(`snappy (xerial): truncated block length at byte ${position}`);
    const length = data.readInt32BE(position);
    position += 4;
    if (length < 0 || position + length > data.length) throw new Error(`snappy (xerial): block of ${length} bytes at byte ${position} runs past the end (${data.length} bytes)`);
    blocks.push((await uncompress(data.subarray(position, position + length), { asBuffer: true })) as Buffer);
    position += length;
  }
  return Buffer.concat(blocks);
}
