/**
 * EventProducer when a produce fails, on the real broker with faults injected in front of kafkajs's sendBatch
 * (the shared broker is never disturbed): a batch stops at the first failed chunk and reports exactly which
 * events were written and which were not, with the ids a retry keeps; a publish of a key whose earlier publish
 * failed is not sent behind its back (per-key order); `close()` settles every accepted publish, including one
 * waiting for rate-limit tokens, and nothing is sent after it returned.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OrderlyError } from '../../../core/errors.ts';
import type { Kafka, Producer, ProducerConfig } from '../../../core/kafka-client.ts';
import { EventProducer, PublishBatchError, type EventProducerOptions, type OutgoingEvent } from '../../../producers/index.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import { readAll } from '../../support/consumer-harness.ts';
import { createTestTopic, testAdmin, testKafka } from '../../support/test-stack.ts';
import { deleteSubject, testRegistry } from '../schemas/registry-helpers.ts';

const schema = readFileSync('schemas/avro/FundsDeposited.avsc', 'utf8');

/** A Kafka client whose producers' sendBatch calls fail on demand, counting the calls that reached the broker. */
function faultyKafka() {
  const kafka: Kafka = testKafka();
  /** Per upcoming sendBatch call: undefined passes it through, a number fails it after that many ms, `delay` holds it back. */
  const faults: (number | { delayMs: number } | undefined)[] = [];
  const sent: number[] = [];
  const createProducer = kafka.producer.bind(kafka);
  kafka.producer = (config?: ProducerConfig): Producer => {
    const real = createProducer(config);
    const sendBatch = real.sendBatch.bind(real);
    real.sendBatch = async (batch) => {
      const fault = faults.shift();
      if (typeof fault === 'object') await sleep(fault.delayMs); // a slow request (a kafkajs retry inside sendBatch)
      else if (fault !== undefined) {
        await sleep(fault);
        throw Object.assign(new Error('injected: the broker did not answer in time'), { name: 'KafkaJSRequestTimeoutError' });
      }
      sent.push(Date.now());
      return sendBatch(batch);
    };
    return real;
  };
  /** Fails the sendBatch call after the next `passing` ones. */
  const failNext = (failAfterMs = 0, passing = 0) => faults.push(...Array<undefined>(passing).fill(undefined), failAfterMs);
  /** Holds the next sendBatch call back for `delayMs`, then sends it. */
  const delayNext = (delayMs: number) => faults.push({ delayMs });
  return { kafka, sent, failNext, delayNext };
}

function producer(kafka: Kafka, options: Partial<EventProducerOptions>): EventProducer {
  return new EventProducer({ kafka, registry: testRegistry(), autoRegister: true, ...options });
}

function events(key: string, count: number, from = 1): OutgoingEvent[] {
  return Array.from({ length: count }, (_, index) => ({ key, schema, value: { accountId: key, sequence: from + index, amountMinor: 1, currency: 'EUR' } }));
}

async function endOffset(topic: string): Promise<number> {
  const offsets = await (await testAdmin()).fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

async function idsIn(topic: string, count: number): Promise<string[]> {
  const records = await readAll(topic, count);
  return records.map((record) => record.headers!['orderly-event-id']!.toString());
}

describe('EventProducer failures on the real broker', () => {
  it('stops a batch at the first failed chunk and reports what was written and what was not, ids kept for the retry', async () => {
    const topic = await createTestTopic({ prefix: 'producer-batch-fail' });
    const faulty = faultyKafka();
    const events6 = producer(faulty.kafka, { topic, maxInFlight: 2 });
    try {
      await events6.publish(events('warm-up', 1)[0]!); // registers the schema, connects
      // The first chunk fails: nothing is written, not one later chunk is sent.
      faulty.failNext(50);
      const first = await events6.publishBatch(events('acct-1', 6)).catch((error: unknown) => error);
      expect(first).toBeInstanceOf(PublishBatchError);
      const failed = first as PublishBatchError;
      expect(failed.written).toEqual([]);
      expect(failed.notWritten).toHaveLength(6);
      expect(failed.unconfirmed).toBe(2);
      expect(failed).toMatchObject({ code: 'KAFKA', retriable: true });
      expect(failed.notWritten.map((event) => (event.value as { sequence: number }).sequence)).toEqual([1, 2, 3, 4, 5, 6]);
      const ids = failed.notWritten.map((event) => event.eventId!);
      expect(new Set(ids).size).toBe(6);
      await sleep(500);
      expect(await endOffset(topic)).toBe(1);

      // The second chunk fails: the first is written, the rest is not sent.
      const sentBefore = faulty.sent.length;
      faulty.failNext(0, 1);
      const failedSecond = (await events6.publishBatch(events('acct-2', 6)).catch((error: unknown) => error)) as PublishBatchError;
      expect(failedSecond).toBeInstanceOf(PublishBatchError);
      expect(failedSecond.written.map((event) => event.offset)).toEqual(['1', '2']);
      expect(failedSecond.notWritten.map((event) => (event.value as { sequence: number }).sequence)).toEqual([3, 4, 5, 6]);
      expect(failedSecond.written.map((event) => event.eventId)).not.toContain(failedSecond.notWritten[0]!.eventId);
      // The first chunk reached the broker; the failing one never did; no later chunk was sent.
      expect(faulty.sent.length - sentBefore).toBe(1);
      await sleep(500);
      expect(await endOffset(topic)).toBe(3);

      // The retry keeps the ids: a consumer could drop a duplicate.
      const retried = await events6.publishBatch(failed.notWritten);
      expect(retried.map((event) => event.eventId)).toEqual(ids);
      expect((await idsIn(topic, 9)).slice(3)).toEqual(ids);
    } finally {
      await events6.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('reports a batch that failed before reaching the broker (schema lookup) as not sent', async () => {
    const topic = await createTestTopic({ prefix: 'producer-batch-lookup' });
    const lookupOnly = producer(testKafka(), { topic, autoRegister: false, maxInFlight: 2 });
    try {
      const error = (await lookupOnly.publishBatch(events('acct-1', 3)).catch((caught: unknown) => caught)) as PublishBatchError;
      expect(error).toBeInstanceOf(PublishBatchError);
      expect(error.cause).toBeInstanceOf(SchemaRegistryError);
      expect(error).toMatchObject({ written: [], unconfirmed: 0, retriable: false });
      expect(error.notWritten).toHaveLength(3);
      expect(await endOffset(topic)).toBe(0);
    } finally {
      await lookupOnly.close();
    }
  });

  it('keeps per-key order of concurrent publishes when the first one is slow (as when kafkajs retries it)', async () => {
    const topic = await createTestTopic({ prefix: 'producer-key-slow' });
    const faulty = faultyKafka();
    const events2 = producer(faulty.kafka, { topic });
    try {
      await events2.publish(events('warm-up', 1)[0]!);
      faulty.delayNext(400);
      const [first, second] = events('acct-1', 2);
      const [one, two] = await Promise.all([events2.publish(first!), events2.publish(second!)]);
      expect(BigInt(two.offset)).toBeGreaterThan(BigInt(one.offset));
      const ids = await idsIn(topic, 3);
      expect(ids.slice(1)).toEqual([one.eventId, two.eventId]);
    } finally {
      await events2.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('does not send a publish of a key behind an earlier publish of that key that failed; other keys go on', async () => {
    const topic = await createTestTopic({ prefix: 'producer-key-order' });
    const faulty = faultyKafka();
    const events3 = producer(faulty.kafka, { topic });
    try {
      await events3.publish(events('warm-up', 1)[0]!);
      faulty.failNext(300);
      const [first, second] = events('acct-1', 2);
      const results = await Promise.allSettled([events3.publish(first!), events3.publish(second!), events3.publish(events('acct-2', 1)[0]!)]);
      expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
      const notSent = (results[1] as PromiseRejectedResult).reason as OrderlyError;
      expect(notSent).toBeInstanceOf(OrderlyError);
      expect(notSent.message).toMatch(/not sent: an earlier publish of the same key to .* failed/);
      await sleep(500);
      expect(await endOffset(topic)).toBe(2); // warm-up and acct-2 only: acct-1#2 was not written ahead of acct-1#1
      // Once the failed ones settled, the key publishes again.
      await events3.publishBatch([first!, second!]);
      expect(await endOffset(topic)).toBe(4);
    } finally {
      await events3.close();
      await deleteSubject(`${topic}-value`);
    }
  });

  it('close() settles a publish waiting for rate-limit tokens or room, and nothing is sent after it returned', async () => {
    const topic = await createTestTopic({ prefix: 'producer-close-rate' });
    const faulty = faultyKafka();
    const limited = producer(faulty.kafka, { topic, rateLimit: { eventsPerSecond: 1, burst: 1 } });
    await limited.publish(events('warm-up', 1)[0]!);
    const waiting = limited.publish(events('acct-1', 1)[0]!);
    const outcome = waiting.then(() => 'written', (error: unknown) => error);
    await sleep(50);
    await limited.close();
    const closedAt = Date.now();
    const settled = await Promise.race([outcome, sleep(0).then(() => 'still pending')]);
    expect(settled).toBeInstanceOf(OrderlyError);
    expect(settled).toMatchObject({ code: 'STOPPED' });
    await sleep(2_000);
    expect(faulty.sent.filter((at) => at >= closedAt)).toEqual([]);
    expect(await endOffset(topic)).toBe(1);
    await expect(limited.publish(events('acct-2', 1)[0]!)).rejects.toMatchObject({ code: 'STOPPED' });

    // Waiting for in-flight room instead: rejected too; the publish in flight is waited for.
    const bounded = producer(faulty.kafka, { topic, maxInFlight: 1 });
    await bounded.publish(events('warm-up', 1)[0]!);
    faulty.failNext(500);
    const inFlight = bounded.publish(events('acct-3', 1)[0]!).then(() => 'written', (error: unknown) => error);
    const waitingForRoom = bounded.publish(events('acct-4', 1)[0]!).then(() => 'written', (error: unknown) => error);
    await sleep(50);
    await bounded.close();
    const boundedClosedAt = Date.now();
    expect(await Promise.race([waitingForRoom, sleep(0).then(() => 'still pending')])).toMatchObject({ code: 'STOPPED' });
    expect(await Promise.race([inFlight, sleep(0).then(() => 'still pending')])).toMatchObject({ code: 'KAFKA' });
    await sleep(500);
    expect(faulty.sent.filter((at) => at >= boundedClosedAt)).toEqual([]);
    expect(await endOffset(topic)).toBe(2);
    await deleteSubject(`${topic}-value`);
  });
});
