/**
 * Backpressure on the real broker: held records stay within the high-water marks under a 2x overload with
 * nothing lost and per-key order kept; pauses follow partitions through 20 rebalances; lower-priority lanes
 * yield; old events are shed; a blocked event loop pauses fetching.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../../../core/kafka-client.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import type { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../../support/test-stack.ts';
import { eventually, produce, readAll, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Produces keyed sequenced events at `perSecond` until `stop()`; returns how many were sent. */
function steadyProducer(topic: string, keys: number, perSecond: number) {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  const next = new Map<string, number>();
  let sent = 0;
  let running = true;
  const done = (async () => {
    await producer.connect();
    const tickMs = 100;
    while (running) {
      const startedAt = Date.now();
      const messages: Message[] = Array.from({ length: Math.round((perSecond * tickMs) / 1000) }, () => {
        const key = `key-${sent++ % keys}`;
        const sequence = (next.get(key) ?? 0) + 1;
        next.set(key, sequence);
        return { key, value: JSON.stringify({ key, sequence }), headers: { 'orderly-event-id': `${key}#${sequence}` } };
      });
      await producer.send({ topic, acks: -1, messages });
      await sleep(Math.max(0, tickMs - (Date.now() - startedAt)));
    }
    await producer.disconnect();
  })();
  return { stop: async () => ((running = false), await done.catch(() => undefined), sent), sent: () => sent };
}

function orderChecker() {
  const handled = new Map<string, number>();
  let violations = 0;
  let count = 0;
  return {
    record(value: SequencedEvent) {
      const previous = handled.get(value.key) ?? 0;
      if (value.sequence !== previous + 1) violations++;
      handled.set(value.key, value.sequence);
      count++;
    },
    get count() {
      return count;
    },
    get violations() {
      return violations;
    },
  };
}

describe('OrderedConsumer backpressure', () => {
  it('under a 2x overload keeps held records within the member high-water mark and the heap bounded; nothing lost, order kept', async () => {
    // 30 s in the default suite; ORDERLY_OVERLOAD_SECONDS=600 for a longer overload (the heap bound must hold at any length).
    const seconds = Number(process.env.ORDERLY_OVERLOAD_SECONDS ?? 30);
    const topic = await createTestTopic({ partitions: 6, prefix: 'overload' });
    const order = orderChecker();
    let handlerDelayMs = 10; // concurrency 10 x 10 ms: about 1,000 events/s
    const memberHigh = 2_000;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId: testGroupId(),
      topics: [topic],
      decoder: jsonDecoder as never,
      concurrency: 10,
      partitionHighWatermarkRecords: 500,
      memberHighWatermarkRecords: memberHigh,
      handler: async ({ value }) => {
        if (handlerDelayMs > 0) await sleep(handlerDelayMs);
        order.record(value);
      },
    });
    // Live heap: sampled after a forced collection (the integration project runs with --expose-gc).
    const liveHeap = () => (globalThis.gc?.(), process.memoryUsage().heapUsed);
    const heapBefore = liveHeap();
    let peakHeld = 0;
    let peakHeap = heapBefore;
    const sampler = setInterval(() => (peakHeld = Math.max(peakHeld, consumer.stats().held.records)), 20);
    const heapSampler = setInterval(() => (peakHeap = Math.max(peakHeap, liveHeap())), 2_000);
    await consumer.start();
    const producer = steadyProducer(topic, 1_000, 2_000);
    onTestFinished(() => producer.stop().then(() => undefined));
    await sleep(seconds * 1_000);
    const sent = await producer.stop();
    const handledDuringOverload = order.count;
    handlerDelayMs = 0; // drain the backlog quickly
    await eventually(() => order.count >= sent, () => `${order.count} of ${sent} handled`, 180_000);
    clearInterval(sampler);
    clearInterval(heapSampler);
    const heapGrowthMb = (peakHeap - heapBefore) / 2 ** 20;
    console.log(
      `overload ${seconds} s: produced ${sent} (${Math.round(sent / seconds)}/s), handled ${handledDuringOverload} during it ` +
        `(${Math.round(handledDuringOverload / seconds)}/s); peak held ${peakHeld} records (bound ${memberHigh}); ` +
        `live heap ${Math.round(heapBefore / 2 ** 20)} MB before, peak +${heapGrowthMb.toFixed(0)} MB`,
    );
    expect(sent).toBeGreaterThan(handledDuringOverload * 1.5); // it really was overloaded
    expect(peakHeld).toBeLessThanOrEqual(memberHigh);
    expect(heapGrowthMb).toBeLessThan(128);
    expect(order.count).toBe(sent);
    expect(order.violations).toBe(0);
  });

  it('through 20 rebalances (1 to 3 to 1 members) with partitions paused by backpressure: no pause left behind, none astray', async () => {
    const topic = await createTestTopic({ partitions: 6, prefix: 'pause-rebalance' });
    const groupId = testGroupId();
    const redis = testRedis();
    const order = orderChecker();
    const make = () =>
      startTestConsumer<SequencedEvent>({
        groupId,
        topics: [topic],
        decoder: jsonDecoder as never,
        concurrency: 8,
        partitionHighWatermarkRecords: 40,
        memberHighWatermarkRecords: 120,
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
        idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
        handler: async ({ value }) => {
          await sleep(5);
          order.record(value);
        },
      });
    const first = make();
    let rebalances = 0;
    let pauses = 0;
    first.events.on('consumer.group.joined', () => rebalances++);
    first.events.on('consumer.partition.paused', () => pauses++);
    const astray: string[] = [];
    const checkConsistent = (consumer: OrderedConsumer<SequencedEvent>) => {
      const ours = consumer.pausedPartitions().map(({ topic: name, partition }) => `${name}/${partition}`).sort();
      const client = consumer.clientPausedPartitions().map(({ topic: name, partition }) => `${name}/${partition}`).sort();
      if (ours.join() !== client.join()) astray.push(`ours [${ours}] client [${client}]`);
    };
    await first.start();
    const producer = steadyProducer(topic, 200, 1_500);
    onTestFinished(() => producer.stop().then(() => undefined));
    while (rebalances < 21) {
      const others = [make(), make()];
      const target = rebalances + 1;
      await Promise.all(others.map((other) => other.start()));
      await eventually(() => rebalances >= target, () => `rebalance ${target}`, 60_000);
      await sleep(1_000);
      for (const consumer of [first, ...others]) checkConsistent(consumer);
      const back = rebalances + 1;
      await Promise.all(others.map((other) => other.stop()));
      await eventually(() => rebalances >= back, () => `rebalance ${back}`, 60_000);
      await sleep(500);
      checkConsistent(first);
    }
    const sent = await producer.stop();
    await eventually(() => order.count >= sent, () => `${order.count} of ${sent} handled`, 120_000);
    await eventually(() => first.pausedPartitions().length === 0, () => `still paused: ${JSON.stringify(first.pausedPartitions())}`, 30_000);
    console.log(`${rebalances} group joins, ${pauses} backpressure pauses on the first member, ${sent} events`);
    expect(pauses).toBeGreaterThan(0);
    expect(astray).toEqual([]);
    expect(first.clientPausedPartitions()).toEqual([]);
    expect(order.count).toBe(sent);
    expect(order.violations).toBe(0);
  });

  it('pauses a low-priority lane while the high-priority lane has a backlog, and keeps the low lane within its concurrency', async () => {
    const payments = await createTestTopic({ partitions: 2, prefix: 'payments' });
    const reports = await createTestTopic({ partitions: 2, prefix: 'reports' });
    await produce(reports, Array.from({ length: 400 }, (_, index) => ({ key: `report-${index % 50}`, value: JSON.stringify({ key: `report-${index % 50}`, sequence: index }) })));
    let reportsInFlight = 0;
    let peakReports = 0;
    let paymentsHandled = 0;
    const pausedTopics = new Set<string>();
    const consumer = startTestConsumer<SequencedEvent>({
      groupId: testGroupId(),
      lanes: [
        { topic: payments, priority: 'high' },
        { topic: reports, priority: 'low', concurrency: 2 },
      ],
      priorityBacklogRecords: 20,
      concurrency: 16,
      decoder: jsonDecoder as never,
      handler: async ({ topic }) => {
        if (topic === reports) {
          peakReports = Math.max(peakReports, ++reportsInFlight);
          await sleep(20);
          reportsInFlight--;
        } else {
          await sleep(5);
          paymentsHandled++;
        }
      },
    });
    consumer.events.on('consumer.partition.paused', ({ topic }) => pausedTopics.add(topic));
    await consumer.start();
    await sleep(2_000);
    await produce(payments, Array.from({ length: 2_000 }, (_, index) => ({ key: `account-${index % 100}`, value: JSON.stringify({ key: `account-${index % 100}`, sequence: index }) })));
    await eventually(() => paymentsHandled >= 2_000, () => `${paymentsHandled} payments handled`);
    expect(pausedTopics.has(reports)).toBe(true);
    expect(peakReports).toBeLessThanOrEqual(2);
  });

  it('sheds events older than maxEventAgeMs to the DLT as expired', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'shed' });
    const groupId = testGroupId();
    await (await testAdmin()).createTopics({ topics: [{ topic: deadLetterTopicOf(topic, groupId), numPartitions: 1 }], waitForLeaders: true });
    const old = new Date(Date.now() - 3_600_000).toISOString();
    await produce(topic, [
      { key: 'a', value: JSON.stringify({ key: 'a', sequence: 1 }), headers: { 'orderly-occurred-at': old } },
      { key: 'a', value: JSON.stringify({ key: 'a', sequence: 2 }), headers: { 'orderly-occurred-at': new Date().toISOString() } },
    ]);
    const handled: number[] = [];
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      maxEventAgeMs: 60_000,
      handler: async ({ value }) => void handled.push(value.sequence),
    });
    await consumer.start();
    const [expired] = await readAll(deadLetterTopicOf(topic, groupId), 1);
    expect(String(expired!.headers!['orderly-dlt-reason'])).toBe('expired');
    await eventually(() => handled.length >= 1, () => 'the fresh event');
    expect(handled).toEqual([2]);
  });

  it('pauses fetching while the event loop is blocked, and resumes after', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'event-loop' });
    let handled = 0;
    const transitions: string[] = [];
    const consumer = startTestConsumer<SequencedEvent>({
      groupId: testGroupId(),
      topics: [topic],
      decoder: jsonDecoder as never,
      maxEventLoopDelayMs: 300,
      handler: async ({ value }) => {
        if (value.key === 'blocker') {
          const until = Date.now() + 1_500;
          while (Date.now() < until); // blocks the event loop
        }
        handled++;
      },
    });
    consumer.events.on('consumer.partition.paused', () => transitions.push('paused'));
    consumer.events.on('consumer.partition.resumed', () => transitions.push('resumed'));
    await consumer.start();
    await produce(topic, Array.from({ length: 20 }, (_, index) => ({ key: `k${index}`, value: JSON.stringify({ key: `k${index}`, sequence: 1 }) })));
    await eventually(() => handled >= 20, () => `${handled} of the first 20 handled`);
    await produce(topic, [{ key: 'blocker', value: JSON.stringify({ key: 'blocker', sequence: 1 }) }]);
    await eventually(() => transitions.includes('paused'), () => `no pause yet (${handled} handled)`);
    await produce(topic, Array.from({ length: 20 }, (_, index) => ({ key: `after${index}`, value: JSON.stringify({ key: `after${index}`, sequence: 1 }) })));
    await eventually(() => handled >= 41 && transitions.includes('resumed'), () => `${handled} handled, transitions ${transitions}`);
    expect(transitions[0]).toBe('paused');
    await eventually(() => !consumer.stats().eventLoopOverloaded && consumer.pausedPartitions().length === 0, () => 'resumed after the block');
  });
});
