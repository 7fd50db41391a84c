/**
 * `transactional: true` on the real stack, in one process: a handler that emits and then throws has none of that
 * attempt's emits seen downstream (read_committed, no deduplication), only the emits of the retry that
 * succeeded, once each, in per-key order; a handler that always throws (dead-lettered) has none at all. And the
 * idempotency store's done marker is written only once the record's transaction committed, never before. Through
 * the retry ladder (a key's later records come from a retry tier, another partition of the shard, and after it
 * from the source again), each emit is still read once and each key's in order.
 * The SIGKILL and zombie cases run in child processes: transactional-emit-crash.test.ts.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, ensureTopicLayout } from '../../../consumers/retries/topic-layout.ts';
import { emittedEventId } from '../../../consumers/emit/attempt-emits.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { eventually, produce, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';
import { readCommitted } from '../../support/committed-reader.ts';
import { outOfKeyOrder } from '../../support/per-key-order.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../../support/test-stack.ts';
import { testRegistry } from '../schemas/registry-helpers.ts';

const stepSchema = JSON.stringify({
  type: 'record',
  name: 'TxStep',
  namespace: 'orderly.test',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'long' },
    { name: 'attempt', type: 'int' },
  ],
});

interface Step {
  key: string;
  sequence: number;
  attempt: number;
}

function producerFor(): EventProducer {
  const producer = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true });
  onTestFinished(() => producer.close());
  return producer;
}

async function recordsIn(topic: string): Promise<number> {
  const offsets = await (await testAdmin()).fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

describe('transactional emits', () => {
  it("never shows downstream the emits of a failed attempt: each source's successful emit once, in per-key order", { timeout: 180_000 }, async () => {
    const [source, target] = await Promise.all([createTestTopic({ partitions: 3, prefix: 'tx-src' }), createTestTopic({ partitions: 3, prefix: 'tx-out' })]);
    const groupId = testGroupId();
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic: deadLetterTopicOf(source, groupId), numPartitions: 3 }], waitForLeaders: true });
    onTestFinished(() => admin.deleteTopics({ topics: [deadLetterTopicOf(source, groupId)] }).catch(() => undefined));
    const total = 300;
    const events = sequencedEvents(total, 20);
    // Every 7th of a key fails once after emitting (its retry emits again and succeeds); every 13th always fails.
    const failsOnce = (sequence: number) => sequence % 7 === 0;
    const alwaysFails = (sequence: number) => sequence % 13 === 0 && !failsOnce(sequence);
    await produce(source, events);
    const downstream = await readCommitted(target);
    const dead = await readCommitted(deadLetterTopicOf(source, groupId));
    const producer = producerFor();
    let attemptsThatThrew = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [source],
      decoder: jsonDecoder as never,
      producer,
      transactional: true,
      commitIntervalMs: 100,
      concurrency: 16,
      inPlaceRetries: 2,
      retryBackoffMs: 10,
      handler: async (event, { emit, attempt }) => {
        const { key, sequence } = event.value;
        await emit(target, key, { schema: stepSchema, value: { key, sequence, attempt } });
        if ((failsOnce(sequence) && attempt === 1) || alwaysFails(sequence)) {
          attemptsThatThrew++;
          throw new Error(`sequence ${sequence} fails after emitting (attempt ${attempt})`);
        }
      },
    });
    // A dead letter is written at least once (docs/handlers.md, "Kafka transactions"): outside the transaction,
    // so a member that starts again, or a forward sent again after an ambiguous failure, can write a second copy.
    let restartsOrResends = 0;
    let joins = 0;
    consumer.events.on('consumer.group.joined', () => void (++joins > 1 && restartsOrResends++));
    consumer.events.on('consumer.transaction.failed', () => void restartsOrResends++);
    consumer.events.on('consumer.forward.failed', () => void restartsOrResends++);
    await consumer.start();
    const deadLettered = events.filter((event) => alwaysFails(JSON.parse(String(event.value)).sequence)).length;
    const deadCount = () => new Set(dead.messages.map((message) => String(message.headers!['orderly-event-id']))).size;
    await eventually(() => downstream.messages.length >= total - deadLettered && deadCount() >= deadLettered, () => `${downstream.messages.length} emits and ${deadCount()} dead letters of ${total}`, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // a late or repeated emit would land now

    const seen = downstream.messages.map((message) => ({ id: String(message.headers!['orderly-event-id']), value: message.value! }));
    const codec = new AvroCodec<Step>({ source: testRegistry() });
    const steps = await Promise.all(seen.map(({ value }) => codec.decode(value, { topic: target, partition: 0, offset: '0' })));
    const deadIds = dead.messages.map((message) => String(message.headers!['orderly-event-id']));
    const expectedDead = events.map((event) => JSON.parse(String(event.value)) as SequencedEvent).filter(({ sequence }) => alwaysFails(sequence));
    expect(new Set(deadIds)).toEqual(new Set(expectedDead.map(({ key, sequence }) => `${key}#${sequence}`)));
    // Without a restart or a resent forward, each dead letter is in the DLT once.
    if (restartsOrResends === 0) expect(dead.messages).toHaveLength(deadLettered);
    expect(seen).toHaveLength(total - deadLettered);
    expect(new Set(seen.map(({ id }) => id)).size).toBe(seen.length); // no duplicate, without any dedup
    const expectedIds = events
      .map((event) => JSON.parse(String(event.value)) as SequencedEvent)
      .filter(({ sequence }) => !alwaysFails(sequence))
      .map(({ key, sequence }) => emittedEventId(groupId, `${key}#${sequence}`, 0));
    expect(new Set(seen.map(({ id }) => id))).toEqual(new Set(expectedIds));
    // Only the attempt that succeeded wrote: the second one for the events that failed once, the first for the rest.
    const wrongAttempt = steps.filter(({ sequence, attempt }) => attempt !== (failsOnce(sequence) ? 2 : 1));
    expect(wrongAttempt).toEqual([]);
    const disorder = outOfKeyOrder(steps, { contiguous: false });
    expect(disorder).toEqual([]);
    expect(attemptsThatThrew).toBeGreaterThan(deadLettered * 3); // the failing attempts did run (and emit)
  });

  it("keeps each key's emits in order, once each, when its records go through a retry tier and back to the source", { timeout: 240_000 }, async () => {
    const [source, target] = await Promise.all([createTestTopic({ partitions: 4, prefix: 'tx-ladder-src' }), createTestTopic({ partitions: 4, prefix: 'tx-ladder-out' })]);
    const groupId = testGroupId();
    const tiersMs = [300, 600];
    await ensureTopicLayout(await testAdmin(), { topic: source, groupId, tierCount: tiersMs.length });
    const total = 2_000;
    const events = sequencedEvents(total, 50);
    // One event in 10 fails its first attempt, one in 37 its first two: up the ladder, its key parked behind it.
    const failuresOf = (sequence: number, key: string) => (sequence % 37 === Number(key.slice(4)) % 37 ? 2 : (sequence + Number(key.slice(4))) % 10 === 0 ? 1 : 0);
    await produce(source, events);
    const downstream = await readCommitted(target);
    const redis = testRedis();
    let forwarded = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [source],
      decoder: jsonDecoder as never,
      producer: producerFor(),
      transactional: true,
      commitIntervalMs: 100,
      concurrency: 64,
      inPlaceRetries: 0,
      retryTiersMs: tiersMs,
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
      parkingStore: new RedisParkingStore({ redis, groupId }),
      handler: async (event, { emit, attempt }) => {
        const { key, sequence } = event.value;
        await emit(target, key, { schema: stepSchema, value: { key, sequence, attempt } });
        if (attempt <= failuresOf(sequence, key)) throw new Error(`planned failure ${attempt} of ${key}#${sequence}`);
      },
    });
    consumer.events.on('consumer.record.retried', () => forwarded++);
    await consumer.start();
    await eventually(() => downstream.messages.length >= total, () => `${downstream.messages.length} of ${total} emits read`, 180_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a late or repeated emit would land now

    const codec = new AvroCodec<Step>({ source: testRegistry() });
    const steps = await Promise.all(downstream.messages.map((message) => codec.decode(message.value!, { topic: target, partition: 0, offset: '0' })));
    const ids = downstream.messages.map((message) => String(message.headers!['orderly-event-id']));
    expect(ids.length - new Set(ids).size).toBe(0);
    expect(steps).toHaveLength(total);
    const wrongAttempt = steps.filter(({ key, sequence, attempt }) => attempt !== failuresOf(sequence, key) + 1);
    expect(wrongAttempt).toEqual([]);
    const disorder = outOfKeyOrder(steps, { contiguous: true });
    expect(disorder).toEqual([]);
    expect(forwarded).toBeGreaterThan(total / 10); // failed heads and the successors parked behind them
  });

  it("writes the idempotency store's done marker only once the record's transaction committed", { timeout: 120_000 }, async () => {
    const [source, target] = await Promise.all([createTestTopic({ partitions: 2, prefix: 'tx-marker-src' }), createTestTopic({ partitions: 2, prefix: 'tx-marker-out' })]);
    const groupId = testGroupId();
    const events = sequencedEvents(12, 4);
    await produce(source, events);
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId });
    const producer = producerFor();
    const handled = new Set<string>();
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [source],
      decoder: jsonDecoder as never,
      producer,
      transactional: true,
      idempotencyStore: store,
      // No periodic commit within the test: the one transaction is the final commit at stop().
      commitIntervalMs: 600_000,
      handler: async (event, { emit }) => {
        await emit(target, event.value.key, { schema: stepSchema, value: { ...event.value, attempt: 1 } });
        handled.add(event.eventId);
      },
    });
    await consumer.start();
    await eventually(() => handled.size === events.length, () => `${handled.size} of ${events.length} handled`, 60_000);
    await eventually(() => consumer.stats().pendingEmits === events.length, () => `${consumer.stats().pendingEmits} emits kept`, 10_000);
    const ids = [...handled];
    // Handled, emits kept, nothing committed: no marker yet (a crash now must hand the records out again), and
    // nothing written to the target topic at all.
    expect(await Promise.all(ids.map((id) => store.isSettled(id)))).toEqual(ids.map(() => false));
    expect(await recordsIn(target)).toBe(0);
    await consumer.stop();
    expect(await Promise.all(ids.map((id) => store.isSettled(id)))).toEqual(ids.map(() => true));
    const downstream = await readCommitted(target);
    await eventually(() => downstream.messages.length >= events.length, () => `${downstream.messages.length} of ${events.length} read`, 30_000);
    expect(downstream.messages).toHaveLength(events.length);
    const offsets = await (await testAdmin()).fetchOffsets({ groupId, topics: [source] });
    expect(offsets[0]!.partitions.reduce((sum, { offset }) => sum + Number(offset), 0)).toBe(events.length);
  });
});
