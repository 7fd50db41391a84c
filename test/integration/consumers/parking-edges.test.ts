/**
 * Key parking at its edges, on the real Redis (issue 15 items 3, 4, 5, 7): a queue that lost an id, a claim
 * lost before completion or between attempts, a member that lost its partition, two copies of an event in one
 * member. Each fault is made real in Redis between two steps of a real RecordProcessor; the forwards are
 * recorded instead of sent, so each step runs exactly when the test says.
 */
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { NonRetryableError, RetryableError } from '../../../core/errors.ts';
import { testRedis } from '../../support/consumer-harness.ts';
import { fetched, lastSent, processorMember, sourceRecord } from '../../support/processor-harness.ts';
import { uniqueName } from '../../support/test-stack.ts';

function setUp() {
  const redis = testRedis();
  const groupId = uniqueName('parking-edges');
  const topic = uniqueName('source');
  const parkingStore = new RedisParkingStore({ redis, groupId });
  const idempotencyStore = new RedisIdempotencyStore({ redis, groupId });
  const handled: string[] = [];
  const failing = new Set<string>();
  const handler = async (event: { eventId: string }) => {
    if (failing.has(event.eventId)) throw new RetryableError(`${event.eventId} fails`);
    handled.push(event.eventId);
  };
  const claimKey = (eventId: string) => `orderly:${groupId}:claim:{${eventId}}`;
  const doneKey = (eventId: string) => `orderly:${groupId}:done:{${eventId}}`;
  return { redis, groupId, topic, parkingStore, idempotencyStore, handled, failing, handler, claimKey, doneKey };
}

describe('key parking edges (real Redis)', () => {
  it('a retry-tier event missing from its key queue is not skipped: the store says it is not done, so it goes back behind the head', async () => {
    const { topic, groupId, parkingStore, idempotencyStore, handled, failing, handler } = setUp();
    const member = processorMember({ memberId: 'm1', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler });
    failing.add('a');
    expect(await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), member.live)).toBe('forwarded');
    expect(await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'b', offset: 2 }), member.live)).toBe('forwarded');
    expect((await parkingStore.get(topic, 0, 'k'))?.queue).toEqual(['a', 'b']);

    // The fault: the write that queued b is lost (Redis everysec, a racing write): b is gone from the queue.
    const state = (await parkingStore.get(topic, 0, 'k'))!;
    await parkingStore.put(topic, 0, 'k', { ...state, queue: ['a'] });

    // b's tier copy arrives while a is still the head: it must wait behind a, not be dropped as a duplicate.
    const bCopy = fetched(topic, lastSent(member, 'b'), 10);
    expect(await member.processor.process(bCopy, member.live)).toBe('forwarded');
    expect((await parkingStore.get(topic, 0, 'k'))?.queue).toEqual(['a', 'b']);

    // Then a succeeds, and b after it: both handled once, in order, and the key is unparked.
    failing.delete('a');
    expect(await member.processor.process(fetched(topic, lastSent(member, 'a'), 11), member.live)).toBe('handled');
    expect(await member.processor.process(fetched(topic, lastSent(member, 'b'), 12), member.live)).toBe('handled');
    expect(handled).toEqual(['a', 'b']);
    expect(await parkingStore.get(topic, 0, 'k')).toBeUndefined();
  });

  it('a retry-tier copy of an event the store says is done is still skipped as a duplicate', async () => {
    const { topic, groupId, parkingStore, idempotencyStore, handled, failing, handler } = setUp();
    const member = processorMember({ memberId: 'm1', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler });
    failing.add('a');
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), member.live);
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'b', offset: 2 }), member.live);
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'c', offset: 3 }), member.live);
    failing.delete('a');
    const bCopy = lastSent(member, 'b');
    await member.processor.process(fetched(topic, lastSent(member, 'a'), 10), member.live);
    expect(await member.processor.process(fetched(topic, bCopy, 11), member.live)).toBe('handled');
    // A second copy of b (a crash between its forward and its commit): done in the store, skipped.
    expect(await member.processor.process(fetched(topic, bCopy, 12), member.live)).toBe('duplicate');
    expect(await member.processor.process(fetched(topic, lastSent(member, 'c'), 13), member.live)).toBe('handled');
    expect(handled).toEqual(['a', 'b', 'c']);
  });

  it('a head whose queue advance was lost (settled, never coming back) does not strand its key: the next event moves the queue past it', async () => {
    const { topic, groupId, parkingStore, idempotencyStore, handled, failing, handler } = setUp();
    const member = processorMember({ memberId: 'm1', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler });
    failing.add('a');
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), member.live);
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'b', offset: 2 }), member.live);
    const before = (await parkingStore.get(topic, 0, 'k'))!;
    failing.delete('a');
    expect(await member.processor.process(fetched(topic, lastSent(member, 'a'), 10), member.live)).toBe('handled');
    // The fault: the write that advanced past a is lost (Redis everysec): a is back at the head, done, gone for good.
    await parkingStore.put(topic, 0, 'k', before);
    expect(await member.processor.process(fetched(topic, lastSent(member, 'b'), 11), member.live)).toBe('handled');
    expect(handled).toEqual(['a', 'b']);
    expect(await parkingStore.get(topic, 0, 'k')).toBeUndefined();
  });

  it('under hold, a redelivered retry-tier copy of the dead-lettered head is a duplicate, not a second dead letter', async () => {
    const { topic, groupId, parkingStore, idempotencyStore } = setUp();
    let runs = 0;
    const member = processorMember({
      memberId: 'm1',
      sourceTopic: topic,
      groupId,
      parkingStore,
      idempotencyStore,
      options: { onDeadLetter: 'hold' },
      handler: async () => {
        runs++;
        if (runs === 1) throw new RetryableError('first attempt fails');
        throw new NonRetryableError('then fails for good');
      },
    });
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), member.live);
    const copy = fetched(topic, lastSent(member, 'a'), 10);
    expect(await member.processor.process(copy, member.live)).toBe('dead-lettered');
    expect(await parkingStore.get(topic, 0, 'k')).toMatchObject({ held: true, queue: [] });
    // The same tier copy again (its commit was lost): the held key's head itself, settled, not a successor.
    const deadLetters = member.sent.filter((record) => record.topic.endsWith('.dlt')).length;
    expect(await member.processor.process(copy, member.live)).toBe('duplicate');
    expect(member.sent.filter((record) => record.topic.endsWith('.dlt')).length).toBe(deadLetters);
  });

  it('a claim lost before completion (its lease ran out) still completes and advances the key queue', async () => {
    const { redis, topic, groupId, parkingStore, idempotencyStore, handled, failing, claimKey, doneKey } = setUp();
    const loseClaimOf = 'a'; // once it no longer fails
    const member = processorMember({
      memberId: 'm1',
      sourceTopic: topic,
      groupId,
      parkingStore,
      idempotencyStore,
      handler: async (event: { eventId: string }) => {
        if (failing.has(event.eventId)) throw new RetryableError('fails');
        // The fault: the claim's lease lapses while the handler runs (a Redis outage longer than the lease).
        if (event.eventId === loseClaimOf) await redis.del(claimKey(event.eventId));
        handled.push(event.eventId);
      },
    });
    failing.add('a');
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), member.live);
    await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'b', offset: 2 }), member.live);
    failing.delete('a');
    const fencedEvents: unknown[] = [];
    member.events.on('consumer.record.fenced', (event) => fencedEvents.push(event));
    await member.processor.process(fetched(topic, lastSent(member, 'a'), 10), member.live);
    expect(fencedEvents).toHaveLength(1);
    // Consistent: a is done in the store and gone from the queue; b is the head and is handled next.
    expect(await redis.get(doneKey('a'))).not.toBeNull();
    expect((await parkingStore.get(topic, 0, 'k'))?.queue).toEqual(['b']);
    expect(await member.processor.process(fetched(topic, lastSent(member, 'b'), 11), member.live)).toBe('handled');
    expect(handled).toEqual(['a', 'b']);
    expect(await parkingStore.get(topic, 0, 'k')).toBeUndefined();
  });

  it('a claim lost before the dead letter is marked: marked again, so a redelivered copy is not handled too', async () => {
    const { redis, topic, groupId, parkingStore, idempotencyStore, handled, claimKey, doneKey } = setUp();
    const member = processorMember({
      memberId: 'm1',
      sourceTopic: topic,
      groupId,
      parkingStore,
      idempotencyStore,
      options: { retryTiersMs: [] },
      handler: async (event: { eventId: string }) => {
        // The fault: the lease lapses while the handler runs; then it fails for good.
        await redis.del(claimKey(event.eventId));
        throw new NonRetryableError('fails for good');
      },
    });
    expect(await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'd', offset: 1 }), member.live)).toBe('dead-lettered');
    expect(await redis.get(doneKey('d'))).toMatch(/^dlt:/);
    // The source record comes again (its commit was lost): done in the store, a duplicate, not handled.
    expect(await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'd', offset: 1 }), member.live)).toBe('duplicate');
    expect(handled).toEqual([]);
  });

  it('a member that lost the partition cannot write its parking state nor forward', async () => {
    const { topic, groupId, parkingStore, idempotencyStore, failing, handler } = setUp();
    const first = processorMember({ memberId: 'm1', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler });
    const second = processorMember({ memberId: 'm2', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler });
    failing.add('a');
    await first.processor.process(sourceRecord(topic, { key: 'k', eventId: 'a', offset: 1 }), first.live);
    // The partition moves to m2, which reads it (a successor of k arrives there first).
    expect(await second.processor.process(sourceRecord(topic, { key: 'k', eventId: 'b', offset: 2 }), second.live)).toBe('forwarded');
    // m1 has not noticed yet: its in-flight record of k must not touch the queue or forward.
    const sentBefore = first.sent.length;
    setTimeout(() => first.revoke(), 300); // it notices the rebalance a little later
    await expect(first.processor.process(sourceRecord(topic, { key: 'k', eventId: 'c', offset: 3 }), first.live)).rejects.toThrow();
    expect(first.sent.length).toBe(sentBefore);
    expect((await parkingStore.get(topic, 0, 'k'))?.queue).toEqual(['a', 'b']);
  });

  it('two copies of one event in one member and assignment: one handles it, the other waits and finds it done', async () => {
    const { topic, groupId, parkingStore, idempotencyStore } = setUp();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const member = processorMember({
      memberId: 'm1',
      sourceTopic: topic,
      groupId,
      parkingStore,
      idempotencyStore,
      options: { ordering: 'none' },
      handler: async () => {
        runs++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 300));
        running--;
      },
    });
    const outcomes = await Promise.all([
      member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'same', offset: 1, partition: 0 }), member.live),
      member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'same', offset: 1, partition: 1 }), member.live),
    ]);
    expect(runs).toBe(1);
    expect(maxRunning).toBe(1);
    expect(outcomes.sort()).toEqual(['duplicate', 'handled']);
  });

  it('a retry whose claim was lost between attempts does not run: the other holder completed it', async () => {
    const { redis, topic, groupId, parkingStore, idempotencyStore, claimKey } = setUp();
    let runs = 0;
    const member = processorMember({
      memberId: 'm1',
      sourceTopic: topic,
      groupId,
      parkingStore,
      idempotencyStore,
      options: { inPlaceRetries: 2, retryBackoffMs: 200, retryBackoffMaxMs: 200 },
      handler: async (event: { payloadHash: string }) => {
        runs++;
        if (runs === 1) {
          // The fault: the lease lapses, and another member claims the event and completes it meanwhile.
          await redis.del(claimKey('e'));
          const other = await idempotencyStore.claim({ eventId: 'e', payloadHash: event.payloadHash, fencingToken: 'm2/7/1', leaseMs: 60_000 });
          expect(other.status).toBe('claimed');
          setTimeout(() => void idempotencyStore.complete('e', 'm2/7/1', event.payloadHash), 50);
          throw new RetryableError('first attempt fails');
        }
      },
    });
    const outcome = await member.processor.process(sourceRecord(topic, { key: 'k', eventId: 'e', offset: 1 }), member.live);
    expect(runs).toBe(1);
    expect(outcome).toBe('duplicate');
  });
});
