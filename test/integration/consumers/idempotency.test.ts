import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId, testStack, uniqueName } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';

describe('RedisIdempotencyStore on the real Redis', () => {
  it('gives a claim to one holder, fences a holder whose lease was taken over, and remembers completion', async () => {
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId: uniqueName('idem') });
    const eventId = uniqueName('event');
    const request = { eventId, payloadHash: 'hash-1', leaseMs: 300 };

    expect(await store.claim({ ...request, fencingToken: 'member-a/1' })).toEqual({ status: 'claimed', token: 'member-a/1' });
    const busy = await store.claim({ ...request, fencingToken: 'member-b/2' });
    expect(busy.status).toBe('busy');
    expect(busy.status === 'busy' && busy.retryAfterMs).toBeLessThanOrEqual(300);

    await new Promise((resolve) => setTimeout(resolve, 400)); // member-a's lease runs out
    expect(await store.claim({ ...request, fencingToken: 'member-b/2' })).toEqual({ status: 'claimed', token: 'member-b/2' });
    expect(await store.complete(eventId, 'member-a/1', 'hash-1')).toBe('fenced');
    expect(await store.complete(eventId, 'member-b/2', 'hash-1')).toBe('completed');

    expect(await store.claim({ ...request, fencingToken: 'member-c/3' })).toEqual({ status: 'done' });
    expect(await store.claim({ ...request, payloadHash: 'other', fencingToken: 'member-c/3' })).toEqual({ status: 'conflict' });
  });

  it('keeps a replay asked for while the dead-lettering is in flight: the late dlt marker does not make the replayed copy a duplicate', async () => {
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId: uniqueName('idem') });
    const eventId = uniqueName('event');
    const request = { eventId, payloadHash: 'hash-1', leaseMs: 60_000 };
    expect((await store.claim({ ...request, fencingToken: 'member-a/1' })).status).toBe('claimed');
    // The DLT record is written; `dlt replay` runs before the member's completion reaches Redis.
    expect(await store.forgetDeadLettered(eventId)).toBe(true);
    expect(await store.complete(eventId, 'member-a/1', 'hash-1', { deadLettered: true })).toBe('completed');
    // The replayed copy is handled, not skipped; afterwards the event is done for good.
    expect(await store.claim({ ...request, fencingToken: 'member-a/1' })).toEqual({ status: 'claimed', token: 'member-a/1' });
    expect(await store.complete(eventId, 'member-a/1', 'hash-1')).toBe('completed');
    expect(await store.claim({ ...request, fencingToken: 'member-b/2' })).toEqual({ status: 'done' });
    // A handled event is not forgotten, and leaves no request behind that a later dead letter would consume.
    expect(await store.forgetDeadLettered(eventId)).toBe(false);
    expect(await store.claim({ ...request, fencingToken: 'member-b/2' })).toEqual({ status: 'done' });
  });

  it('forgets a dead-lettered event for a replay, once; the same request through the batched claim path', async () => {
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId: uniqueName('idem') });
    const ids = [uniqueName('event'), uniqueName('event')];
    const claims = await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: 'h', fencingToken: 'a/1', leaseMs: 60_000 })));
    expect(claims.map((claim) => claim.status)).toEqual(['claimed', 'claimed']);
    // First id: marker written before the replay (forgotten at once); second: replay first, marker after.
    expect(await store.complete(ids[0]!, 'a/1', 'h', { deadLettered: true })).toBe('completed');
    expect(await store.forgetDeadLettered(ids[0]!)).toBe(true);
    expect(await store.forgetDeadLettered(ids[1]!)).toBe(true);
    expect(await store.complete(ids[1]!, 'a/1', 'h', { deadLettered: true })).toBe('completed');
    const replayed = await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: 'h', fencingToken: 'b/2', leaseMs: 60_000 })));
    expect(replayed.map((claim) => claim.status)).toEqual(['claimed', 'claimed']);
    // Dead-lettered again: now the markers stay (the requests were used up by the replayed copies' claims).
    await Promise.all(ids.map((eventId) => store.complete(eventId, 'b/2', 'h', { deadLettered: true })));
    const again = await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: 'h', fencingToken: 'c/3', leaseMs: 60_000 })));
    expect(again.map((claim) => claim.status)).toEqual(['done', 'done']);
  });

  it('frees a released claim at once', async () => {
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId: uniqueName('idem') });
    const request = { eventId: uniqueName('event'), payloadHash: 'h', leaseMs: 60_000 };
    await store.claim({ ...request, fencingToken: 'a' });
    await store.release(request.eventId, 'not-the-holder');
    expect((await store.claim({ ...request, fencingToken: 'b' })).status).toBe('busy');
    await store.release(request.eventId, 'a');
    expect((await store.claim({ ...request, fencingToken: 'b' })).status).toBe('claimed');
  });

  it('answers each of many claims and completions made at once (one script call) on its own', async () => {
    // Without auto-pipelining (it calls a command's method a second time), so the spy counts script calls.
    const redis = new Redis(testStack().settings.REDIS_URL);
    onTestFinished(() => redis.quit().then(() => undefined));
    const store = new RedisIdempotencyStore({ redis, groupId: uniqueName('idem') });
    const claimCalls = vi.spyOn(redis as unknown as { orderlyClaimMany: () => unknown }, 'orderlyClaimMany');
    const ids = Array.from({ length: 300 }, () => uniqueName('event'));
    const first = await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: `hash-${eventId}`, fencingToken: 'a/1', leaseMs: 60_000 })));
    expect(first.every((result) => result.status === 'claimed')).toBe(true);
    expect(claimCalls).toHaveBeenCalledTimes(2); // 256 and 44: at most 256 events a call
    // Completed by the holder for even ids, by a stranger (fenced) for odd ones.
    const completed = await Promise.all(ids.map((eventId, index) => store.complete(eventId, index % 2 === 0 ? 'a/1' : 'b/2', `hash-${eventId}`)));
    expect(completed).toEqual(ids.map((_, index) => (index % 2 === 0 ? 'completed' : 'fenced')));
    // Even: done, or conflict for another payload. Odd: still a's claim, so busy for b and claimed again for a.
    const again = await Promise.all(
      ids.map((eventId, index) => {
        if (index % 2 === 0) return store.claim({ eventId, payloadHash: index % 4 === 0 ? `hash-${eventId}` : 'other', fencingToken: 'b/2', leaseMs: 60_000 });
        return store.claim({ eventId, payloadHash: `hash-${eventId}`, fencingToken: index % 4 === 1 ? 'b/2' : 'a/1', leaseMs: 60_000 });
      }),
    );
    expect(again.map((result) => result.status)).toEqual(ids.map((_, index) => ['done', 'busy', 'conflict', 'claimed'][index % 4]));
    for (const result of again.filter((result) => result.status === 'busy')) expect(result.status === 'busy' && result.retryAfterMs).toBeGreaterThan(10_000);
  });
});

describe('OrderedConsumer with the Redis idempotency store', () => {
  it('does not handle completed events again when the group re-reads them, and dead-letters a reused id as id-conflict', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'idempotent' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic: deadLetterTopicOf(topic, groupId), numPartitions: 3 }], waitForLeaders: true });
    await produce(topic, sequencedEvents(600, 60));
    const store = new RedisIdempotencyStore({ redis: testRedis(), groupId });

    let firstRun = 0;
    const first = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      idempotencyStore: store,
      handler: async () => void firstRun++,
    });
    await first.start();
    await eventually(() => firstRun >= 600, () => `${firstRun} of 600`);
    await first.stop();

    // Rewind the group as an operator might; the same events and one reused id with other content come back.
    await admin.resetOffsets({ groupId, topic, earliest: true });
    await produce(topic, [{ key: 'key-1', value: JSON.stringify({ key: 'key-1', sequence: 999 }), headers: { 'orderly-event-id': 'key-1#1' } }]);
    let secondRun = 0;
    let duplicates = 0;
    const second = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      idempotencyStore: store,
      handler: async () => void secondRun++,
    });
    second.events.on('consumer.record.skipped-duplicate', () => duplicates++);
    await second.start();
    const [conflict] = await readAll(deadLetterTopicOf(topic, groupId), 1);
    expect(conflict!.headers![forwardHeaders.reason]!.toString()).toBe('id-conflict');
    await eventually(() => duplicates >= 600, () => `${duplicates} of 600 duplicates`);
    expect(secondRun).toBe(0);
  });
});
