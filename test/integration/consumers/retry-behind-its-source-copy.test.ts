/**
 * A retry-tier copy and the source copy of the same event in one member, after a rebalance or a crash (the
 * source offset was not committed before the forward): the source copy is read again and claimed ahead, and the
 * tier copy comes due while the source copy still waits for a handler slot. Found by review: when a due retry ran
 * before every queued source record of its key, the tier copy started first, found the event's claim held by the
 * source copy (its own member's claim, taken ahead), and waited out the claim's lease with the key's lane blocked.
 * Real Redis stores, a real RecordProcessor and the real KeyScheduler; the forwards are recorded, not sent.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../../consumers/consumed-record.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { KeyScheduler } from '../../../consumers/ordering/key-scheduler.ts';
import type { RecordOutcome } from '../../../consumers/record-processor.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { RetryableError } from '../../../core/errors.ts';
import { testRedis } from '../../support/consumer-harness.ts';
import { fetched, lastSent, processorMember, sourceRecord } from '../../support/processor-harness.ts';
import { uniqueName } from '../../support/test-stack.ts';

describe('a retry and its own source copy in one lane (real Redis)', () => {
  it('the source copy read again runs first and handles the event; the tier copy is then a duplicate, and nothing waits for a lease', async () => {
    const redis = testRedis();
    const groupId = uniqueName('retry-own-copy');
    const topic = uniqueName('source');
    const parkingStore = new RedisParkingStore({ redis, groupId });
    const idempotencyStore = new RedisIdempotencyStore({ redis, groupId });
    const handled: string[] = [];
    let failFirst = true;
    let releaseBlocker!: () => void;
    const blocker = new Promise<void>((resolve) => (releaseBlocker = resolve));
    const handler = async (event: { eventId: string }) => {
      if (event.eventId === 'blocker') await blocker;
      if (event.eventId === 'e1' && failFirst) {
        failFirst = false;
        throw new RetryableError('e1 fails once');
      }
      handled.push(event.eventId);
    };
    // handlerTimeoutMs 1 s: the claim's lease is then ~12 s, far longer than this test waits for its outcomes.
    const options = { retryTiersMs: [1_000], handlerTimeoutMs: 1_000, concurrency: 1 };
    const first = processorMember({ memberId: 'a', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler, options });
    expect(await first.processor.process(sourceRecord(topic, { key: 'k', eventId: 'e1', offset: 0 }), first.live)).toBe('forwarded');
    const tierCopy = fetched(topic, lastSent(first, 'e1'), 0, 1);

    // The first member dies before committing offset 0; the next owner reads offset 0 again, and the tier copy.
    const next = processorMember({ memberId: 'b', sourceTopic: topic, groupId, parkingStore, idempotencyStore, handler, options });
    const waits: unknown[] = [];
    next.events.on('consumer.claim.waiting', (event) => waits.push(event));
    const scheduler = new KeyScheduler<ConsumedRecord>({ ordering: 'key', concurrency: 1 });
    const outcomes: { record: string; outcome: RecordOutcome }[] = [];
    let settledAll!: () => void;
    const allSettled = new Promise<void>((resolve) => (settledAll = resolve));
    const sink = {
      settled: (record: ConsumedRecord, _live: unknown, outcome: RecordOutcome) => {
        outcomes.push({ record: `${record.tier}@${record.offset}`, outcome });
        scheduler.complete(record);
        if (outcomes.length === 3) settledAll();
        pump();
      },
      failed: (_record: ConsumedRecord, _live: unknown, error: unknown) => {
        throw error;
      },
    };
    const pump = () => {
      next.processor.claimAhead(next.live);
      for (const record of scheduler.takeRunnable()) next.processor.start(record, next.live, sink);
    };
    const offer = (record: ConsumedRecord) => {
      scheduler.enqueue(record);
      next.processor.offer(record);
      pump();
    };
    offer(sourceRecord(topic, { key: 'other', eventId: 'blocker', offset: 5 })); // takes the only handler slot
    offer(sourceRecord(topic, { key: 'k', eventId: 'e1', offset: 0 })); // the source copy, claimed ahead
    await new Promise((resolve) => setTimeout(resolve, 100)); // its claim ahead is taken in Redis
    offer(tierCopy); // the tier copy of e1 comes due while the source copy waits
    releaseBlocker();

    const outcome = await Promise.race([allSettled.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('timed out'), 6_000))]);
    expect(outcome).toBe('settled');
    expect(waits).toEqual([]);
    expect(outcomes).toEqual([
      { record: '0@5', outcome: 'handled' },
      { record: '0@0', outcome: 'handled' },
      { record: '1@0', outcome: 'duplicate' },
    ]);
    expect(handled).toEqual(['blocker', 'e1']);
    expect(await parkingStore.get(topic, 0, 'k')).toBeUndefined();
  }, 20_000);
});
