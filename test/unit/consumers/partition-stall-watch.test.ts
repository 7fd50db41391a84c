/**
 * A partition whose watermark does not move for `stuckPartitionMs` while records wait is reported once, with
 * the offset it waits at and why, and reported as moving when it moves: real OffsetTracker, KeyScheduler and
 * RecordTroubles, a given clock.
 */
import { describe, expect, it } from 'vitest';
import { firstVisit, partitionIdOf, type ConsumedRecord } from '../../../consumers/consumed-record.ts';
import { ConsumerEventEmitter } from '../../../consumers/events.ts';
import { explainWait } from '../../../consumers/lifecycle/explain-wait.ts';
import { watchedPartitionsOf } from '../../../consumers/lifecycle/member-stall-report.ts';
import { PartitionStallWatch, type PartitionStall } from '../../../consumers/lifecycle/partition-stall-watch.ts';
import { RecordTroubles } from '../../../consumers/lifecycle/record-troubles.ts';
import { OffsetTracker } from '../../../consumers/offsets/offset-tracker.ts';
import { KeyScheduler } from '../../../consumers/ordering/key-scheduler.ts';

function record(partition: number, offset: number, key: string, topic = 'orders'): ConsumedRecord {
  return { topic, sourceTopic: 'orders', partition, partitionId: partitionIdOf(topic, partition), offset: String(offset), key: Buffer.from(key), value: null, headers: {}, rawHeaders: [], timestamp: '0', tier: 0, retry: firstVisit, size: 0 };
}

function setUp(concurrency = 2) {
  const tracker = new OffsetTracker();
  const scheduler = new KeyScheduler<ConsumedRecord>({ ordering: 'key', concurrency });
  const events = new ConsumerEventEmitter();
  const troubles = new RecordTroubles(events);
  const stalls: PartitionStall[] = [];
  const moving: string[] = [];
  const watch = new PartitionStallWatch({
    stuckPartitionMs: 1_000,
    partitions: () => watchedPartitionsOf(tracker),
    explain: (topic, partition, offset) =>
      explainWait({ scheduler, concurrency, rebalancing: false, heldRetries: () => 0, paused: () => false, trouble: (id, at) => troubles.of(id, at) }, topic, partition, offset),
    onStalled: (stall) => stalls.push(stall),
    onMoving: ({ partition }) => moving.push(`orders[${partition}]`),
  });
  const fetch = (...records: ConsumedRecord[]) => {
    for (const r of records) {
      tracker.track(r.topic, r.partition, r.offset, r.partitionId);
      scheduler.enqueue(r);
    }
    return scheduler.takeRunnable();
  };
  const complete = (r: ConsumedRecord) => {
    scheduler.complete(r);
    tracker.complete(r.topic, r.partition, r.offset, r.partitionId);
    return scheduler.takeRunnable();
  };
  return { watch, stalls, moving, fetch, complete, events };
}

describe('PartitionStallWatch', () => {
  it('reports a partition whose first record stays in flight, once, with offset and reason; then that it moves', () => {
    const { watch, stalls, moving, fetch, complete, events } = setUp();
    const [a0, a1, b2] = [record(0, 0, 'a'), record(0, 1, 'a'), record(0, 2, 'b')];
    fetch(a0, a1, b2);
    complete(b2);
    watch.check(0);
    watch.check(999);
    expect(stalls).toEqual([]);
    events.emit('consumer.record.failed', { topic: 'orders', partition: 0, offset: '0', attempt: 2, errorType: 'TimeoutError', willRetry: true });
    watch.check(1_000);
    watch.check(5_000);
    expect(stalls).toEqual([{ topic: 'orders', partition: 0, offset: '0', waiting: 2, stalledForMs: 1_000, reason: 'in flight: attempt 2 failed (TimeoutError), retried in place' }]);
    complete(a0);
    watch.check(5_100);
    expect(moving).toEqual(['orders[0]']);
  });

  it('says a record waits behind its key, and behind full handler slots', () => {
    const { watch, stalls, fetch } = setUp(1);
    // A retry of key k (tier 1, partition 0) runs; the source's record 5 of key k queues behind it in the key's
    // lane; partition 2's record waits for the only handler slot.
    fetch(record(0, 0, 'k', 'orders.g.retry.1'), record(0, 5, 'k'), record(2, 7, 'z'));
    watch.check(0);
    watch.check(1_500);
    const reasons = Object.fromEntries(stalls.map(({ partition, offset, reason }) => [`${partition}@${offset}`, reason]));
    expect(reasons['0@0']).toBe('in flight: its handler, or one of its idempotency, parking or forward steps, has not finished');
    expect(reasons['0@5']).toBe('queued behind orders.g.retry.1[0]@0 of the same key, still in flight');
    expect(reasons['2@7']).toBe('queued: every handler slot is taken (1 of 1 in flight)');
  });

  it('does not report a partition with nothing waiting, however long its watermark stays', () => {
    const { watch, stalls, fetch, complete } = setUp();
    const [r] = fetch(record(0, 3, 'a'));
    complete(r!);
    watch.check(0);
    watch.check(60_000);
    expect(stalls).toEqual([]);
  });
});
