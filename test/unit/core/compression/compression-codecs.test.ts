import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { compress as rawSnappyCompress } from 'snappy';
import { registerCompressionCodecs } from '../../../../core/compression/register-compression-codecs.ts';
import { isXerialFramed, snappyDecompress } from '../../../../core/compression/snappy-codec.ts';
import { compressionIdOf, compressionNameOf, compressionNames } from '../../../../core/compression/compression.ts';

const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

function codecOf(id: number): Codec {
  registerCompressionCodecs();
  return (CompressionCodecs as unknown as Record<number, () => Codec>)[id]!();
}

/** Text-like bytes that compress, with some noise that does not. */
function sample(bytes: number): Buffer {
  const text = Buffer.from('{"accountId":"acct-0042","amount":1250,"currency":"EUR","note":"monthly fee"}'.repeat(Math.ceil(bytes / 80))).subarray(0, bytes);
  const noise = randomBytes(Math.floor(bytes / 10));
  return Buffer.concat([text, noise]);
}

describe('compression codecs registered with kafkajs', () => {
  for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`${name}: what it compresses it decompresses, byte for byte, from empty to several blocks`, async () => {
      const codec = codecOf(compressionIdOf[name]);
      for (const size of [0, 1, 1_000, 70_000, 300_000]) {
        const data = sample(size);
        const compressed = await codec.compress({ buffer: data });
        const restored = await codec.decompress(compressed);
        expect(restored.equals(data), `${name} ${size} bytes`).toBe(true);
      }
    });
  }

  it('snappy: writes the xerial framing the Java client writes, and reads raw snappy as librdkafka writes it', async () => {
    const codec = codecOf(CompressionTypes.Snappy);
    const data = sample(100_000);
    const framed = await codec.compress({ buffer: data });
    expect(isXerialFramed(framed)).toBe(true);
    expect(framed.readInt32BE(8)).toBe(1); // version
    expect(framed.readInt32BE(12)).toBe(1); // compatible version
    const raw = await rawSnappyCompress(data);
    expect(isXerialFramed(raw)).toBe(false);
    expect((await codec.decompress(raw)).equals(data)).toBe(true);
  });

  it('snappy: a xerial block that runs past the end is an error, not a short read', async () => {
    const framed = await codecOf(CompressionTypes.Snappy).compress({ buffer: sample(10_000) });
    await expect(snappyDecompress(framed.subarray(0, framed.length - 3))).rejects.toThrow(/runs past the end/);
  });

  it('lz4: writes the LZ4 frame format (magic 04 22 4D 18)', async () => {
    const frame = await codecOf(CompressionTypes.LZ4).compress({ buffer: sample(1_000) });
    expect(frame.subarray(0, 4).toString('hex')).toBe('04224d18');
  });

  it('zstd: writes a zstd frame (magic 28 B5 2F FD)', async () => {
    const frame = await codecOf(CompressionTypes.ZSTD).compress({ buffer: sample(1_000) });
    expect(frame.subarray(0, 4).toString('hex')).toBe('28b52ffd');
  });

  it('names every Kafka codec id, and calls 5 to 7 unknown', () => {
    expect(compressionNames.map((name) => compressionNameOf(compressionIdOf[name]))).toEqual([...compressionNames]);
    expect(compressionNameOf(6)).toBe('unknown-6');
  });

  it('a codec id no Kafka client writes is registered too, so kafkajs never reads its payload as plain records', async () => {
    await expect(codecOf(5).decompress(Buffer.from('anything'))).rejects.toThrow(/undecodable record batch \(unknown-5: codec id 5 is not a Kafka compression codec\)/);
  });
});
