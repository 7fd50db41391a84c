import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { registerCompressionCodecs } from '../../../../core/compression/register-compression-codecs.ts';
import { recordsAreWellFormed, undecodableBatchOf } from '../../../../core/compression/undecodable-batch.ts';

// kafkajs's own batch encoder and decoder: the code a fetch response goes through.
const require = createRequire(import.meta.url);
type Decoded = { offset: string; value: Buffer | null; key: Buffer | null }[];
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (options: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (options: object) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<{ records: Decoded }>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: string): unknown };

const { CompressionTypes } = kafkajs;
/** Where the compressed records start in an encoded batch, and where its attributes are. */
const recordsAt = 61;
const attributesAt = 21;

async function encodedBatch(compression: number, values: string[], firstOffset = '1000'): Promise<Buffer> {
  registerCompressionCodecs();
  const records = values.map((value, index) => Record({ offsetDelta: index, key: `key-${index}`, value, headers: {} }));
  const encoder = await RecordBatch({ compression, firstOffset: Long.fromValue(firstOffset), lastOffsetDelta: values.length - 1, records });
  // Inside a larger buffer, as a fetch response carries it: the decoder reads the header before the records.
  return Buffer.concat([Buffer.from('fetch response bytes before the batch'), encoder.buffer]).subarray(37);
}

function decode(batch: Buffer): Promise<{ records: Decoded }> {
  return decodeBatch(new Decoder(batch));
}

const values = ['first', 'second', 'third'];

describe('an undecodable record batch becomes markers at its own offsets', () => {
  it('decodes a sound compressed batch as it is (no markers)', async () => {
    for (const compression of [CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
      const { records } = await decode(await encodedBatch(compression, values));
      expect(records.map((record) => record.value!.toString())).toEqual(values);
      expect(records.every((record) => undecodableBatchOf(record) === undefined)).toBe(true);
    }
  });

  it('a corrupt LZ4 payload: one marker per record, at offsets 1000..1002, naming the codec and the error', async () => {
    const batch = await encodedBatch(CompressionTypes.LZ4, values);
    batch[recordsAt]! ^= 0xff; // the frame magic
    const { records } = await decode(batch);
    expect(records.map((record) => record.offset)).toEqual(['1000', '1001', '1002']);
    const marker = undecodableBatchOf(records[0]!);
    expect(marker).toMatchObject({ baseOffset: '1000', lastOffset: '1002', recordCount: 3, codec: 'lz4' });
    expect(marker!.reason).toMatch(/^lz4: /);
    expect(records.every((record) => record.key === null && record.value!.length === 0)).toBe(true);
  });

  it('a zstd payload that decompresses to bytes that are no records is undecodable too', async () => {
    const zstd = await encodedBatch(CompressionTypes.ZSTD, values);
    // Replace the payload with a valid zstd frame of the wrong content.
    const { zstdCompressSync } = await import('node:zlib');
    const wrong = zstdCompressSync(Buffer.from('not records at all'));
    const batch = Buffer.concat([zstd.subarray(0, recordsAt), wrong]);
    batch.writeInt32BE(49 + wrong.length, 8);
    const { records } = await decode(batch);
    expect(records).toHaveLength(3);
    expect(undecodableBatchOf(records[2]!)?.reason).toMatch(/does not hold the 3 records its header announces/);
  });

  it('an unknown codec id (5) is undecodable, not read as plain records', async () => {
    const batch = await encodedBatch(CompressionTypes.GZIP, values, '7');
    batch.writeInt16BE((batch.readInt16BE(attributesAt) & ~0x07) | 5, attributesAt);
    const { records } = await decode(batch);
    expect(records.map((record) => record.offset)).toEqual(['7', '8', '9']);
    expect(undecodableBatchOf(records[0]!)).toMatchObject({ codec: 'unknown-5', baseOffset: '7', lastOffset: '9' });
  });

  it('a compacted batch (fewer records than offsets): the last marker sits at the last offset', async () => {
    const batch = await encodedBatch(CompressionTypes.LZ4, values, '0');
    batch.writeInt32BE(9, 23); // lastOffsetDelta: 9, three records left
    batch[recordsAt]! ^= 0xff;
    const { records } = await decode(batch);
    expect(records.map((record) => record.offset)).toEqual(['0', '1', '9']);
    expect(undecodableBatchOf(records[1]!)).toMatchObject({ baseOffset: '0', lastOffset: '9', recordCount: 3 });
  });

  it('no record can pass for a marker: an empty value from a producer is an ordinary record', async () => {
    const { records } = await decode(await encodedBatch(CompressionTypes.LZ4, ['', '']));
    expect(records.map((record) => record.value!.length)).toEqual([0, 0]);
    expect(records.every((record) => undecodableBatchOf(record) === undefined)).toBe(true);
  });

  it('a buffer not inside a fetch response (no header before it) fails the decode as before', async () => {
    registerCompressionCodecs();
    const codec = (kafkajs.CompressionCodecs as unknown as Record<number, () => { decompress(buffer: Buffer): Promise<Buffer> }>)[CompressionTypes.LZ4]!();
    await expect(codec.decompress(Buffer.from('not an lz4 frame'))).rejects.toThrow(/undecodable record batch \(lz4: /);
  });

  it('checks the record layout: lengths that run past a record are refused', () => {
    // One record: length 6, attributes 0, timestamp 0, offset 0, key -1, value length 10 (past the end), headers 0.
    expect(recordsAreWellFormed(Buffer.from([12, 0, 0, 0, 1, 20, 0]), 1)).toBe(false);
    expect(recordsAreWellFormed(Buffer.from([12, 0, 0, 0, 1, 0, 0]), 1)).toBe(true);
    expect(recordsAreWellFormed(Buffer.from([12, 0, 0, 0, 1, 0, 0]), 2)).toBe(false);
  });
});
