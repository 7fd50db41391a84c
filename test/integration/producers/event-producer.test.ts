/**
 * EventProducer on the real stack: keyed events land on the partition Kafka's Java default partitioner picks
 * (reference values from kafka-clients itself), keyless publishes are refused with nothing sent, and the
 * in-flight bound holds against a real broker.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kafka, Producer, ProducerConfig } from '../../../core/kafka-client.ts';
import { EventProducer, type EventProducerOptions } from '../../../producers/index.ts';
import { BackpressureError, MissingKeyError, RateLimitError } from '../../../producers/producer-errors.ts';
import { readEnvelope } from '../../../producers/envelope-headers.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../../support/test-stack.ts';
import { deleteSubject, testRegistry } from '../schemas/registry-helpers.ts';

const run = promisify(execFile);
const schema = readFileSync('schemas/avro/FundsDeposited.avsc', 'utf8');
const partitions = 6;
const keys = [...Array.from({ length: 46 }, (_, index) => `account-${index * 7919}`), 'ü-unicode', 'a', 'a much longer key with spaces', '0'];

function producer(options: Partial<EventProducerOptions> = {}, kafka: Kafka = testKafka()): EventProducer {
  return new EventProducer({ kafka, registry: testRegistry(), autoRegister: true, ...options });
}

async function endOffsets(topic: string): Promise<number> {
  const offsets = await (await testAdmin()).fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

describe('EventProducer on the real stack', () => {
  const javaPartitionOf = new Map<string, number>();

  beforeAll(async () => {
    const { stdout } = await run('java', ['-cp', 'infra/kafka/target/libs/*', 'test/support/java/KeyPartitions.java', String(partitions), ...keys]);
    for (const line of stdout.trim().split('\n')) {
      const [key, partition] = line.split('\t');
      javaPartitionOf.set(key as string, Number(partition));
    }
  });

  it('puts each key on the partition that Java computes, with the envelope, decodable through the registry', async () => {
    expect(javaPartitionOf.size).toBe(keys.length);
    expect(new Set(javaPartitionOf.values()).size).toBe(partitions); // the keys spread over every partition
    const topic = await createTestTopic({ partitions, prefix: 'producer-partitions' });
    const events = producer({ topic });
    try {
      const published = await events.publishBatch(
        keys.map((key, index) => ({ key, schema, value: { accountId: key, sequence: index + 1, amountMinor: 100, currency: 'EUR' } })),
      );
      expect(published.map((event) => event.partition)).toEqual(keys.map((key) => javaPartitionOf.get(key)));

      // Where the records really are: read them back.
      const consumer = testKafka().consumer({ groupId: testGroupId() });
      const codec = new AvroCodec({ source: testRegistry(), expectedSubjects: [`${topic}-value`] });
      const landed = new Map<string, { partition: number; offset: string; value: unknown; envelope: ReturnType<typeof readEnvelope> }>();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              const value = await codec.decode(message.value, { topic, partition, offset: message.offset });
              landed.set(message.key!.toString(), { partition, offset: message.offset, value, envelope: readEnvelope(message.headers) });
              if (landed.size === keys.length) resolve();
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      keys.forEach((key, index) => {
        const record = landed.get(key)!;
        expect(record.partition, key).toBe(javaPartitionOf.get(key));
        expect(record.offset).toBe(published[index]!.offset);
        expect(record.value).toEqual({ accountId: key, sequence: index + 1, amountMinor: 100, currency: 'EUR' });
        expect(record.envelope).toMatchObject({ eventId: published[index]!.eventId, eventType: 'orderly.ledger.FundsDeposited' });
        expect(Date.parse(record.envelope.occurredAt!)).toBeGreaterThan(Date.now() - 600_000);
      });
    } finally {
      await events.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('refuses a keyless publish and sends nothing', async () => {
    const topic = await createTestTopic({ prefix: 'producer-keyless' });
    const events = producer({ topic });
    try {
      await expect(events.publish({ key: '', schema, value: { accountId: 'x', sequence: 1, amountMinor: 1, currency: 'EUR' } })).rejects.toBeInstanceOf(MissingKeyError);
      await expect(events.publish({ key: undefined as never, schema, value: {} })).rejects.toMatchObject({ code: 'MISSING_KEY' });
      expect(await endOffsets(topic)).toBe(0);
    } finally {
      await events.close();
    }
  });

  it('without autoRegister, refuses a schema the subject lacks, and sends nothing', async () => {
    const topic = await createTestTopic({ prefix: 'producer-lookup' });
    const events = producer({ topic, autoRegister: false });
    try {
      const error = await events.publish({ key: 'k', schema, value: { accountId: 'k', sequence: 1, amountMinor: 1, currency: 'EUR' } }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SchemaRegistryError);
      expect(error).toMatchObject({ status: 404, retriable: false });
      expect(await endOffsets(topic)).toBe(0);
    } finally {
      await events.close();
    }
  });

  it('keeps at most maxInFlight events in flight on a real broker, and with onFull reject throws BackpressureError', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'producer-bound' });
    // Count messages inside kafkajs sendBatch calls, independently of the producer's own bookkeeping.
    let inside = 0;
    let peak = 0;
    const kafka = testKafka();
    const createProducer = kafka.producer.bind(kafka);
    kafka.producer = (config?: ProducerConfig): Producer => {
      const real = createProducer(config);
      const sendBatch = real.sendBatch.bind(real);
      real.sendBatch = async (batch) => {
        const count = batch.topicMessages!.reduce((sum, entry) => sum + entry.messages.length, 0);
        inside += count;
        peak = Math.max(peak, inside);
        try {
          return await sendBatch(batch);
        } finally {
          inside -= count;
        }
      };
      return real;
    };
    const value = (index: number) => ({ accountId: `k${index}`, sequence: index, amountMinor: 1, currency: 'EUR' });
    const waiting = producer({ topic, maxInFlight: 5 }, kafka);
    try {
      await waiting.publish({ key: 'warm-up', schema, value: value(0) });
      const sends = Array.from({ length: 60 }, (_, index) => waiting.publish({ key: `k${index % 7}`, schema, value: value(index) }));
      expect(waiting.inFlight).toBeLessThanOrEqual(5);
      await Promise.all(sends);
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(5);
      expect(await endOffsets(topic)).toBe(61);
    } finally {
      await waiting.close();
    }

    const rejecting = producer({ topic, maxInFlight: 3, onFull: 'reject' });
    try {
      const accepted = [1, 2, 3].map((index) => rejecting.publish({ key: `r${index}`, schema, value: value(index) }));
      await expect(rejecting.publish({ key: 'r4', schema, value: value(4) })).rejects.toBeInstanceOf(BackpressureError);
      await Promise.all(accepted);
      expect(await endOffsets(topic)).toBe(64);
      // Room again once acknowledged.
      await rejecting.publish({ key: 'r5', schema, value: value(5) });
      expect(await endOffsets(topic)).toBe(65);
    } finally {
      await rejecting.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('holds a token-bucket rate limit against a real broker, keeps per-key order, and with onLimit reject throws RateLimitError', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'producer-rate' });
    const value = (index: number) => ({ accountId: `k${index % 5}`, sequence: index, amountMinor: 1, currency: 'EUR' });
    const limited = producer({ topic, rateLimit: { eventsPerSecond: 200, burst: 20 } });
    try {
      await limited.publish({ key: 'warm-up', schema, value: value(0) }); // registers the schema, connects
      const started = performance.now();
      const published = await Promise.all(Array.from({ length: 300 }, (_, index) => limited.publish({ key: `k${index % 5}`, schema, value: value(index) })));
      const elapsedMs = performance.now() - started;
      // 299 tokens beyond what the bucket held (at most 20): at 200/s that takes at least 1.395 s. A loaded
      // machine can only make it slower, so only the lower bound is asserted.
      expect(elapsedMs).toBeGreaterThanOrEqual(((300 - 20) / 200) * 1000 - 5);
      // Waiters are served in order: per key, offsets rise with the publish order.
      for (let key = 0; key < 5; key++) {
        const offsets = published.filter((_, index) => index % 5 === key).map((event) => BigInt(event.offset));
        expect(offsets.every((offset, index) => index === 0 || offset > offsets[index - 1]!)).toBe(true);
      }
      expect(await endOffsets(topic)).toBe(301);
    } finally {
      await limited.close();
    }

    const rejecting = producer({ topic, rateLimit: { eventsPerSecond: 1, burst: 3, onLimit: 'reject' } });
    try {
      await rejecting.publishBatch([1, 2, 3].map((index) => ({ key: `r${index}`, schema, value: value(index) })));
      const error = await rejecting.publish({ key: 'r4', schema, value: value(4) }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RateLimitError);
      expect(error).toMatchObject({ code: 'BACKPRESSURE', retriable: true });
      expect(await endOffsets(topic)).toBe(304); // the refused event was never sent
    } finally {
      await rejecting.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('names the value and the fix for a bad rate limit', () => {
    expect(() => producer({ rateLimit: { eventsPerSecond: 0 } })).toThrow(/producer\.rateLimit\.eventsPerSecond: must be a positive number/);
    expect(() => producer({ rateLimit: { eventsPerSecond: 10, burst: 1.5 } })).toThrow(/producer\.rateLimit\.burst: must be a whole number/);
  });
});
