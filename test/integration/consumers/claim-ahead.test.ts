/**
 * Idempotency claims taken ahead of a record's start (consumers/idempotency/claim-ahead.ts), against real
 * Redis and Kafka: queued records' events are claimed in a few store calls, a stop gives back every claim a
 * record never used (the next member does not wait out leases), and every event is still handled exactly once,
 * in order per key.
 */
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';

describe('OrderedConsumer: idempotency claims taken ahead', () => {
  it('claims queued events in batches, releases the unused claims at a stop, and the next member handles the rest at once', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'claim-ahead' });
    const total = 1_200;
    const keys = 400;
    await produce(topic, sequencedEvents(total, keys));
    const redis = testRedis();
    const groupId = testGroupId();
    const claimKeys = async () => (await redis.keys(`orderly:${groupId}:claim:*`)).length;
    // Counts the store's calls to Redis (its scripts, on the client it was given).
    let calls = 0;
    const counting = new Proxy(redis, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string' || !property.startsWith('orderly')) return value;
        return (...args: unknown[]) => {
          calls++;
          return (value as (...args: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const handled = new Map<string, number[]>();
    let count = 0;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // A long lease: a member that waited out a claim left behind would take far longer than the test allows.
    const options = { topics: [topic], decoder: jsonDecoder as never, concurrency: 4, leaseMs: 600_000, handlerTimeoutMs: 5_000 };
    const record = (value: SequencedEvent) => {
      const list = handled.get(value.key) ?? [];
      list.push(value.sequence);
      handled.set(value.key, list);
      count++;
    };

    const first = startTestConsumer<SequencedEvent>({
      ...options,
      groupId,
      idempotencyStore: new RedisIdempotencyStore({ redis: counting, groupId, doneTtlMs: 600_000 }),
      handler: async ({ value }) => {
        if (count >= 200) await gate; // the rest waits queued, with claims taken ahead
        record(value);
      },
    });
    await first.start();
    await eventually(() => count >= 200 && first.stats().claimsAhead > 0, () => `${count} handled, ${first.stats().claimsAhead} claims ahead`, 60_000);
    expect(first.stats().claimsAhead).toBeLessThanOrEqual(16); // the window: the handler slots, at least 16
    // Claims ahead exist in Redis for queued events (besides the four in flight).
    expect(await claimKeys()).toBeGreaterThan(4);
    // Far fewer store calls than a claim and a completion per event.
    expect(calls / count).toBeLessThan(0.5);

    const stopping = first.stop();
    open();
    await stopping;
    expect(first.stats().claimsAhead).toBe(0);
    // Every claim a record never used was released (sent as the stop dropped the queue): none is left to wait out.
    let left = await claimKeys();
    for (const deadline = Date.now() + 10_000; left > 0 && Date.now() < deadline; left = await claimKeys()) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(left).toBe(0);

    const handledByFirst = count;
    const second = startTestConsumer<SequencedEvent>({
      ...options,
      groupId,
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId, doneTtlMs: 600_000 }),
      handler: async ({ value }) => record(value),
    });
    await second.start();
    await eventually(() => count >= total, () => `${count} of ${total} handled (${handledByFirst} by the first member)`, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // a duplicate would land now
    expect(count).toBe(total);
    expect(handled.size).toBe(keys);
    for (const [key, sequences] of handled) expect(sequences, key).toEqual(Array.from({ length: total / keys }, (_, index) => index + 1));
  });
});
