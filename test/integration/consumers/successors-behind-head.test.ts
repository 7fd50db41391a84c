/**
 * A parked key's later events run right behind their head on the real broker and Redis: forwarded while the head
 * waits on its tier, they are due when the head is, not a whole tier delay after their own forward; order holds.
 */
import { describe, expect, it } from 'vitest';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { ensureTopicLayout, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, readAll, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';

const event = (key: string, sequence: number) => ({ key, value: JSON.stringify({ key, sequence }), headers: { 'orderly-event-id': `${key}#${sequence}` } });

/** A consumer on one partition with one tier of `tierMs`, no jitter; the event of sequence 1 fails once. */
async function startParkingConsumer(tierMs: number) {
  const topic = await createTestTopic({ partitions: 1, prefix: 'behind-head' });
  const groupId = testGroupId();
  await ensureTopicLayout(await testAdmin(), { topic, groupId, tierCount: 1 });
  const redis = testRedis();
  const handled: { sequence: number; at: number }[] = [];
  const run = { forwardedHeadAt: 0 };
  const consumer = startTestConsumer<SequencedEvent>({
    groupId,
    topics: [topic],
    decoder: jsonDecoder as never,
    concurrency: 10,
    inPlaceRetries: 0,
    retryTiersMs: [tierMs],
    retryJitter: 0,
    parkingStore: new RedisParkingStore({ redis, groupId }),
    handler: async ({ value }, { attempt }) => {
      if (value.sequence === 1 && attempt === 1) throw new Error('the head fails once');
      handled.push({ sequence: value.sequence, at: Date.now() });
    },
  });
  consumer.events.on('consumer.record.retried', () => (run.forwardedHeadAt ||= Date.now()));
  await consumer.start();
  await produce(topic, [event('k', 1)]);
  await eventually(() => run.forwardedHeadAt > 0, () => 'the head not forwarded yet', 60_000);
  const dueOnTier = async (count: number) => {
    const copies = await readAll(retryTopicOf(topic, groupId, 1), count);
    return (sequence: number) => Number(copies.find((copy) => String(copy.headers!['orderly-event-id']) === `k#${sequence}`)!.headers!['orderly-due-at']);
  };
  const stop = async () => {
    await consumer.stop();
    redis.disconnect();
  };
  return { topic, handled, run, dueOnTier, stop };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('successors of a parked key', () => {
  it("are due with their head on its tier, and handled after it in order, not a tier delay after their own forward", async () => {
    const tierMs = 6_000;
    const { topic, handled, run, dueOnTier, stop } = await startParkingConsumer(tierMs);
    try {
      // The successors come 2 s into the head's 6 s wait: each is parked behind it and forwarded to the tier.
      await sleep(2_000);
      await produce(topic, [event('k', 2), event('k', 3), event('k', 4)]);
      await eventually(() => handled.length >= 4, () => `${handled.length} of 4 handled`, 60_000);

      expect(handled.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4]);
      const dueOf = await dueOnTier(4);
      const headDue = dueOf(1);
      expect(headDue).toBeGreaterThanOrEqual(run.forwardedHeadAt - 1_000 + tierMs - 1_000);
      for (const sequence of [2, 3, 4]) expect(dueOf(sequence), `k#${sequence}`).toBe(headDue);
      // None ran before its due time (the head's).
      for (const entry of handled) expect(entry.at).toBeGreaterThanOrEqual(headDue);
    } finally {
      await stop();
    }
  });

  it('are fetched in time when written to the tier after the partition was paused for an earlier one', async () => {
    // A 10 s tier: the head and the first successor (forwarded 6.5 s in) are fetched 2 s before the head is due,
    // which left the partition paused until ~16 s by the successor's own write time; the second successor,
    // forwarded 8.8 s in, is due with the head at 10 s and must be fetched by then.
    const tierMs = 10_000;
    const { topic, handled, run, dueOnTier, stop } = await startParkingConsumer(tierMs);
    try {
      await sleep(Math.max(0, run.forwardedHeadAt + 6_500 - Date.now()));
      await produce(topic, [event('k', 2)]);
      await sleep(Math.max(0, run.forwardedHeadAt + 8_800 - Date.now()));
      await produce(topic, [event('k', 3)]);
      await eventually(() => handled.length >= 3, () => `${handled.length} of 3 handled`, 60_000);

      expect(handled.map((entry) => entry.sequence)).toEqual([1, 2, 3]);
      const dueOf = await dueOnTier(3);
      const headDue = dueOf(1);
      expect(dueOf(3)).toBe(headDue);
      // Fetched before its due time, it runs right behind the head: not ~6 s later, when a pause set by the first
      // successor's write time would have ended.
      expect(handled[2]!.at - headDue).toBeLessThan(3_000);
    } finally {
      await stop();
    }
  });
});
