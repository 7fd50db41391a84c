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

describe('successors of a parked key', () => {
  it("are due with their head on its tier, and handled after it in order, not a tier delay after their own forward", async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'behind-head' });
    const groupId = testGroupId();
    await ensureTopicLayout(await testAdmin(), { topic, groupId, tierCount: 1 });
    const tierMs = 6_000;
    const redis = testRedis();
    const handled: { sequence: number; at: number }[] = [];
    let forwardedHeadAt = 0;
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
    consumer.events.on('consumer.record.retried', () => (forwardedHeadAt ||= Date.now()));
    try {
      await consumer.start();
      await produce(topic, [event('k', 1)]);
      await eventually(() => forwardedHeadAt > 0, () => 'the head not forwarded yet', 60_000);
      // The successors come 2 s into the head's 6 s wait: each is parked behind it and forwarded to the tier.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await produce(topic, [event('k', 2), event('k', 3), event('k', 4)]);
      await eventually(() => handled.length >= 4, () => `${handled.length} of 4 handled`, 60_000);

      expect(handled.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4]);
      const copies = await readAll(retryTopicOf(topic, groupId, 1), 4);
      const dueOf = (sequence: number) => Number(copies.find((copy) => String(copy.headers!['orderly-event-id']) === `k#${sequence}`)!.headers!['orderly-due-at']);
      const headDue = dueOf(1);
      expect(headDue).toBeGreaterThanOrEqual(forwardedHeadAt - 1_000 + tierMs - 1_000);
      for (const sequence of [2, 3, 4]) expect(dueOf(sequence), `k#${sequence}`).toBe(headDue);
      // None ran before its due time (the head's).
      for (const entry of handled) expect(entry.at).toBeGreaterThanOrEqual(headDue);
    } finally {
      await consumer.stop();
      redis.disconnect();
    }
  });
});
