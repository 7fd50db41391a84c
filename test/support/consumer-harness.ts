/** Helpers for consumer tests: produce keyed JSON events, run an OrderedConsumer that stops when the test ends. */
import { onTestFinished } from 'vitest';
import { Redis } from 'ioredis';
import { OrderedConsumer } from '../../consumers/ordered-consumer.ts';
import type { OrderedConsumerOptions } from '../../consumers/options.ts';
import type { KafkaMessage, Message } from '../../core/kafka-client.ts';
import { testAdmin, testKafka, testStack } from './test-stack.ts';

export interface SequencedEvent {
  key: string;
  sequence: number;
}

/** Publishes `events` (acks=all, idempotent) in batches; keys partition the records as Kafka's Java client would. */
export async function produce(topic: string, messages: Message[], batchSize = 2_000): Promise<void> {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let start = 0; start < messages.length; start += batchSize) {
      await producer.send({ topic, acks: -1, messages: messages.slice(start, start + batchSize) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** `count` events over `keys` keys, each carrying its per-key sequence number (1, 2, 3, ...). */
export function sequencedEvents(count: number, keys: number): Message[] {
  const next = new Map<string, number>();
  return Array.from({ length: count }, (_, index) => {
    const key = `key-${index % keys}`;
    const sequence = (next.get(key) ?? 0) + 1;
    next.set(key, sequence);
    return { key, value: JSON.stringify({ key, sequence }), headers: { 'orderly-event-id': `${key}#${sequence}` } };
  });
}

export function startTestConsumer<T>(options: Omit<OrderedConsumerOptions<T>, 'kafka'>): OrderedConsumer<T> {
  const consumer = new OrderedConsumer<T>({
    kafka: { brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId: `test-${options.groupId}` },
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    commitIntervalMs: 200,
    shutdownTimeoutMs: 10_000,
    // No ladder unless a test asks for one (its tier topics must then exist).
    retryTiersMs: [],
    ...options,
  });
  onTestFinished(() => consumer.stop());
  return consumer;
}

export function testRedis(): Redis {
  const redis = new Redis(testStack().settings.REDIS_URL, { enableAutoPipelining: true });
  onTestFinished(() => redis.quit().then(() => undefined));
  return redis;
}

/** Reads every record of a topic from the beginning (no group), until `count` arrived or the time runs out. */
export async function readAll(topic: string, count: number, timeoutMs = 60_000): Promise<KafkaMessage[]> {
  const admin = await testAdmin();
  const offsets = await admin.fetchTopicOffsets(topic);
  const consumer = testKafka().consumer({ groupId: `reader-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: KafkaMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} records in ${topic}`)), timeoutMs);
    if (offsets.every((partition) => partition.high === '0') && count === 0) {
      clearTimeout(timer);
      resolve();
    }
    void consumer.run({
      eachMessage: async ({ message }) => {
        messages.push(message);
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  }).finally(() => consumer.disconnect());
  return messages;
}

/** Waits until `predicate` holds, polling; fails with `describe()` after the timeout. */
export async function eventually(predicate: () => boolean, describe: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
