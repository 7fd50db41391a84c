/**
 * EventProducer's `compression`: each codec's batches are written compressed with it (the codec registered with
 * kafkajs is the one that runs) and read back as the same events by a consumer of this process.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { compressionIdOf, type CompressionName } from '../../../core/compression/compression.ts';
import { registerCompressionCodecs } from '../../../core/compression/register-compression-codecs.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import { EventProducer } from '../../../producers/index.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { readAll } from '../../support/consumer-harness.ts';
import { createTestTopic, testKafka } from '../../support/test-stack.ts';
import { deleteSubject, testRegistry } from '../schemas/registry-helpers.ts';

type CodecTable = Record<number, () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(data: Buffer): Promise<Buffer> }>;

const schema = readFileSync('schemas/avro/FundsDeposited.avsc', 'utf8');

/** Counts the batches kafkajs compresses with codec `id` while `body` runs. */
async function countingCompressions(id: number, body: () => Promise<void>): Promise<number> {
  registerCompressionCodecs();
  const table = kafkajs.CompressionCodecs as unknown as CodecTable;
  const sound = table[id]!;
  let count = 0;
  table[id] = () => {
    const codec = sound();
    return { ...codec, compress: (encoder) => (count++, codec.compress(encoder)) };
  };
  try {
    await body();
  } finally {
    table[id] = sound;
  }
  return count;
}

describe('EventProducer: compression', () => {
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const satisfies CompressionName[]) {
    it(`${compression}: batches are compressed with it and read back as the same events`, async () => {
      const topic = await createTestTopic({ partitions: 2, prefix: `producer-${compression}` });
      const registry = testRegistry();
      const producer = new EventProducer({ kafka: testKafka(), registry, autoRegister: true, topic, compression });
      const values = Array.from({ length: 40 }, (_, index) => ({ accountId: `acct-${index % 5}`, sequence: index + 1, amountMinor: index * 100, currency: 'EUR' }));
      try {
        const batches = await countingCompressions(compressionIdOf[compression], async () => {
          await producer.publishBatch(values.map((value) => ({ key: value.accountId, schema, value })));
        });
        expect(batches).toBeGreaterThanOrEqual(1);
        const decoder = new AvroCodec({ source: registry });
        const read = await readAll(topic, values.length);
        const decoded = await Promise.all(read.map((message) => decoder.decode(message.value!)));
        expect(decoded.map((value) => Number((value as { sequence: number }).sequence)).sort((a, b) => a - b)).toEqual(values.map((value) => value.sequence));
      } finally {
        await producer.close();
        await deleteSubject(`${topic}-value`);
      }
    });
  }

  it('refuses a codec Kafka does not have, naming the ones it has', () => {
    expect(() => new EventProducer({ kafka: testKafka(), registry: testRegistry(), compression: 'brotli' as never })).toThrow(ConfigurationError);
    expect(() => new EventProducer({ kafka: testKafka(), registry: testRegistry(), compression: 'brotli' as never })).toThrow(/producer\.compression: must be one of none, gzip, snappy, lz4, zstd/);
  });
});
