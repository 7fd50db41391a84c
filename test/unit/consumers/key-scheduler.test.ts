import { describe, expect, it } from 'vitest';
import { KeyScheduler } from '../../../consumers/ordering/key-scheduler.ts';
import type { LaneRecord } from '../../../consumers/ordering/ordering.ts';

let nextOffset = 0;

/** Starts and completes `steps` records one at a time (concurrency 1), in the order the scheduler picks them. */
function runOneByOne(scheduler: KeyScheduler<LaneRecord>, steps: number): LaneRecord[] {
  const order: LaneRecord[] = [];
  for (let step = 0; step < steps; step++) {
    const [next] = scheduler.takeRunnable();
    order.push(next!);
    scheduler.complete(next!);
  }
  return order;
}
function record(key: string | null, partition = 0, topic = 't'): LaneRecord {
  return { topic, partition, offset: String(nextOffset++), key: key === null ? null : Buffer.from(key) };
}

describe('KeyScheduler', () => {
  it('runs one record per key at a time, in arrival order, and different keys concurrently', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 10 });
    const [a1, a2, b1, a3] = [record('a'), record('a'), record('b'), record('a')];
    for (const r of [a1, a2, b1, a3]) scheduler.enqueue(r!);
    expect(scheduler.takeRunnable()).toEqual([a1, b1]);
    expect(scheduler.takeRunnable()).toEqual([]);
    scheduler.complete(a1!);
    expect(scheduler.takeRunnable()).toEqual([a2]);
    scheduler.complete(a2!);
    scheduler.complete(b1!);
    expect(scheduler.takeRunnable()).toEqual([a3]);
    scheduler.complete(a3!);
    expect(scheduler.inFlight).toBe(0);
    expect(scheduler.queued).toBe(0);
  });

  it('never runs more than `concurrency` records at once', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 3 });
    const records = Array.from({ length: 10 }, (_, index) => record(`k${index}`));
    for (const r of records) scheduler.enqueue(r);
    const first = scheduler.takeRunnable();
    expect(first).toHaveLength(3);
    expect(scheduler.inFlight).toBe(3);
    scheduler.complete(first[0]!);
    expect(scheduler.takeRunnable()).toEqual([records[3]]);
  });

  it("serialises a whole partition with 'partition' ordering, and nothing with 'none'", () => {
    const byPartition = new KeyScheduler<LaneRecord>({ ordering: 'partition', concurrency: 10 });
    const unordered = new KeyScheduler<LaneRecord>({ ordering: 'none', concurrency: 10 });
    const records = [record('a', 0), record('b', 0), record('c', 1)];
    for (const r of records) {
      byPartition.enqueue(r);
      unordered.enqueue(r);
    }
    expect(byPartition.takeRunnable()).toEqual([records[0], records[2]]);
    expect(unordered.takeRunnable()).toEqual(records);
  });

  it('gives lanes turns in order, so a long backlog on one key does not starve another', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const hot = Array.from({ length: 5 }, () => record('hot'));
    for (const r of hot) scheduler.enqueue(r);
    const cold = record('cold');
    scheduler.enqueue(cold);
    const [first] = scheduler.takeRunnable();
    scheduler.complete(first!);
    expect(scheduler.takeRunnable()).toEqual([cold]);
  });

  it('drops the queued records of a revoked partition but keeps the lane of one in flight busy', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 10 });
    const [a1, a2, other] = [record('a', 0), record('a', 0), record('x', 1)];
    for (const r of [a1, a2, other]) scheduler.enqueue(r!);
    expect(scheduler.takeRunnable()).toEqual([a1, other]);
    expect(scheduler.dropQueued({ topic: 't', partition: 0 })).toEqual([a2]);
    expect(scheduler.queuedFor('t', 0)).toBe(0);
    // The broker hands a2 out again: it waits behind a1, still in flight.
    const redelivered = { ...a2! };
    scheduler.enqueue(redelivered);
    expect(scheduler.takeRunnable()).toEqual([]);
    scheduler.complete(a1!);
    expect(scheduler.takeRunnable()).toEqual([redelivered]);
  });

  it('refuses to complete a record that is not in flight', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    expect(() => scheduler.complete(record('never'))).toThrow(/not in flight/);
  });
});

describe('KeyScheduler with retry tiers', () => {
  const tierRecord = (key: string, source = 't', tier = 't.g.retry.1'): LaneRecord => ({ ...record(key, 0, tier), sourceTopic: source });
  const sourceRecord = (key: string, topic = 't'): LaneRecord => ({ ...record(key, 0, topic), sourceTopic: topic });

  it('starts a due retry before a backlog of its source topic', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const backlog = Array.from({ length: 5 }, (_, index) => sourceRecord(`s${index}`));
    for (const r of backlog) scheduler.enqueue(r);
    const retry = tierRecord('r');
    scheduler.enqueue(retry);
    expect(scheduler.takeRunnable()).toEqual([retry]);
  });

  it("runs a retry before its key's queued source records (an earlier event of the key) and before the source backlog", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const other = sourceRecord('b');
    const first = sourceRecord('a');
    const retry = tierRecord('a');
    for (const r of [other, first, retry]) scheduler.enqueue(r);
    const order = runOneByOne(scheduler, 3);
    // The retry of 'a' first; the key's source record then waits its turn in the source queue, behind 'b'.
    expect(order).toEqual([retry, other, first]);
  });

  it("lifts a lane only while a retry waits in it: the key's source records wait their turn in the source queue", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const backlog = Array.from({ length: 3 }, (_, index) => sourceRecord(`s${index}`));
    const first = sourceRecord('a');
    for (const r of [...backlog, first]) scheduler.enqueue(r);
    const retry = tierRecord('a');
    const later = sourceRecord('a');
    scheduler.enqueue(retry);
    scheduler.enqueue(later);
    const order = runOneByOne(scheduler, 6);
    // The lane's entry left in the source queue when it was lifted is skipped: 'first' and 'later' wait at the back.
    expect(order).toEqual([retry, ...backlog, first, later]);
    expect(scheduler.queued).toBe(0);
    expect(scheduler.takeRunnable()).toEqual([]);
  });

  it('runs a retry that joined a busy lane next when the lane frees, before the backlog and its key\'s source records', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const first = sourceRecord('a');
    scheduler.enqueue(first);
    expect(scheduler.takeRunnable()).toEqual([first]);
    const second = sourceRecord('a');
    const backlog = Array.from({ length: 3 }, (_, index) => sourceRecord(`s${index}`));
    for (const r of [second, ...backlog]) scheduler.enqueue(r);
    const retry = tierRecord('a');
    scheduler.enqueue(retry);
    scheduler.complete(first);
    const order = runOneByOne(scheduler, 5);
    expect(order).toEqual([retry, ...backlog, second]);
  });

  it("runs the key's source records at or before a retry's original offset first (its own event read again, an earlier one), then the retry, then the later ones", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const blocker = sourceRecord('b');
    scheduler.enqueue(blocker);
    expect(scheduler.takeRunnable()).toEqual([blocker]);
    // After a rebalance: offsets 20 and 21 of key 'a' read again; the retry is the copy of the event at 21.
    const earlier: LaneRecord = { ...sourceRecord('a'), offset: '20' };
    const same: LaneRecord = { ...sourceRecord('a'), offset: '21' };
    const later: LaneRecord = { ...sourceRecord('a'), offset: '22' };
    const retry: LaneRecord = { ...tierRecord('a'), tier: 1, retry: { originalOffset: '21' } };
    for (const r of [earlier, same, later, retry]) scheduler.enqueue(r);
    scheduler.complete(blocker);
    expect(runOneByOne(scheduler, 4)).toEqual([earlier, same, retry, later]);
    expect(scheduler.queued).toBe(0);
  });

  it('compares original offsets as numbers, not as text', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const later: LaneRecord = { ...sourceRecord('a'), offset: '100' };
    const retry: LaneRecord = { ...tierRecord('a'), tier: 1, retry: { originalOffset: '99' } };
    for (const r of [later, retry]) scheduler.enqueue(r);
    expect(runOneByOne(scheduler, 2)).toEqual([retry, later]);
  });

  it('keeps a delay-level record in arrival order with its key\'s source records: a cancel fetched before it runs first', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const blocker = sourceRecord('x');
    scheduler.enqueue(blocker);
    expect(scheduler.takeRunnable()).toEqual([blocker]);
    const backlog = sourceRecord('y');
    const cancel = sourceRecord('k');
    const delayed: LaneRecord = { ...record('k', 0, 't.g.delay.1'), sourceTopic: 't', tier: 1001, released: true };
    for (const r of [backlog, cancel, delayed]) scheduler.enqueue(r);
    scheduler.complete(blocker);
    // The lane of 'k' is lifted above the backlog by its delay-level record; the cancel ahead of it rides along.
    expect(runOneByOne(scheduler, 3)).toEqual([cancel, delayed, backlog]);
  });

  it("judges a delay-level record ahead of a retry by its original offset, not its offset on the level's topic", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const blocker = sourceRecord('x');
    scheduler.enqueue(blocker);
    expect(scheduler.takeRunnable()).toEqual([blocker]);
    // After a rebalance: a later delayed event's level copy (at offset 500 on its own topic), the event's own
    // source copy read again (offset 10, claimed ahead), then its retry (original offset 10).
    const level: LaneRecord = { ...record('a', 0, 't.g.delay.1'), offset: '500', sourceTopic: 't', tier: 1001, released: true, retry: { originalOffset: '20' } };
    const same: LaneRecord = { ...sourceRecord('a'), offset: '10' };
    const retry: LaneRecord = { ...tierRecord('a'), tier: 1, retry: { originalOffset: '10' } };
    for (const r of [level, same, retry]) scheduler.enqueue(r);
    scheduler.complete(blocker);
    expect(runOneByOne(scheduler, 3)).toEqual([level, same, retry]);
  });

  it("keeps a delayed event's copy on a retry tier (behind a parked head) in arrival order: a cancel fetched before it runs first", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const blocker = sourceRecord('x');
    scheduler.enqueue(blocker);
    expect(scheduler.takeRunnable()).toEqual([blocker]);
    const cancel: LaneRecord = { ...sourceRecord('k'), offset: '11', delay: { kind: 'cancel' } };
    const delayedCopy: LaneRecord = { ...tierRecord('k'), tier: 1, retry: { originalOffset: '9' }, delay: { kind: 'delayed' } };
    for (const r of [cancel, delayedCopy]) scheduler.enqueue(r);
    scheduler.complete(blocker);
    expect(runOneByOne(scheduler, 2)).toEqual([cancel, delayedCopy]);
  });

  it('never holds a retry back by records that arrived after it, whatever its original offset says', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const first = { ...sourceRecord('a'), offset: '1' };
    scheduler.enqueue(first);
    expect(scheduler.takeRunnable()).toEqual([first]);
    const before = { ...sourceRecord('a'), offset: '2' };
    scheduler.enqueue(before);
    // An original offset beyond any offset (a hostile header, a recreated topic): at worst arrival order.
    const retry: LaneRecord = { ...tierRecord('a'), tier: 1, retry: { originalOffset: '99999999999999999999' } };
    scheduler.enqueue(retry);
    const after = Array.from({ length: 3 }, (_, index) => ({ ...sourceRecord('a'), offset: String(3 + index) }));
    for (const r of after) scheduler.enqueue(r);
    scheduler.complete(first);
    expect(runOneByOne(scheduler, 5)).toEqual([before, retry, ...after]);
  });

  it('lists queued records in the order they run (diagnostics), a retry between its earlier and later source records', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const blocker = sourceRecord('a');
    scheduler.enqueue(blocker);
    expect(scheduler.takeRunnable()).toEqual([blocker]);
    const same: LaneRecord = { ...sourceRecord('a'), offset: '31' };
    const later: LaneRecord = { ...sourceRecord('a'), offset: '32' };
    const retry: LaneRecord = { ...tierRecord('a'), tier: 1, retry: { originalOffset: '31' } };
    for (const r of [same, later, retry]) scheduler.enqueue(r);
    const at = (r: LaneRecord) => scheduler.locate((candidate) => candidate === r);
    expect([same, retry, later].map((r) => (at(r) as { ahead: number }).ahead)).toEqual([0, 1, 2]);
  });

  it('never runs two records of one lifted lane at once, whatever entries it left behind', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 4 });
    const records = [sourceRecord('a'), sourceRecord('b'), tierRecord('a'), sourceRecord('a'), tierRecord('a'), sourceRecord('a')];
    for (const r of records) scheduler.enqueue(r);
    const done: LaneRecord[] = [];
    for (let round = 0; round < 10 && done.length < records.length; round++) {
      const started = scheduler.takeRunnable();
      const keys = started.map((r) => r.key!.toString());
      expect(new Set(keys).size).toBe(keys.length);
      for (const r of started) {
        scheduler.complete(r);
        done.push(r);
      }
    }
    // Key 'a': its retries first (in arrival order), then its source records (in arrival order).
    const ofA = records.filter((r) => r.key!.toString() === 'a');
    const isRetry = (r: LaneRecord) => r.topic !== 't';
    expect(done.filter((r) => r.key!.toString() === 'a')).toEqual([...ofA.filter(isRetry), ...ofA.filter((r) => !isRetry(r))]);
    expect(done).toHaveLength(records.length);
  });

  it('starts a released delayed event before queued lanes of its source topic', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const backlog = Array.from({ length: 5 }, (_, index) => sourceRecord(`s${index}`));
    for (const r of backlog) scheduler.enqueue(r);
    // Held in memory at intake until its due time, then released into its lane (the consumer sets the flag).
    const due = { ...sourceRecord('d'), released: true };
    scheduler.enqueue(due);
    expect(scheduler.takeRunnable()).toEqual([due]);
    scheduler.complete(due);
    expect(scheduler.takeRunnable()).toEqual([backlog[0]]);
  });

  it("keeps a released event's key in order: its earlier records run first, its later records wait behind it in the source queue", () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const before = sourceRecord('a');
    const other = sourceRecord('b');
    scheduler.enqueue(before);
    scheduler.enqueue(other);
    const due = { ...sourceRecord('a'), released: true };
    const after = sourceRecord('a');
    const third = sourceRecord('c');
    for (const r of [due, after, third]) scheduler.enqueue(r);
    const order = runOneByOne(scheduler, 5);
    // 'a' ran first (its lane was ahead); its released record then ranks above the queued 'b' and 'c', and the
    // key's later plain record goes back to the end of the source queue.
    expect(order).toEqual([before, due, other, third, after]);
  });

  it('shares the source topic concurrency with released records and ranks them below a higher-priority topic', () => {
    const scheduler = new KeyScheduler<LaneRecord>({
      ordering: 'key',
      concurrency: 10,
      topicShares: [
        { topic: 'urgent', rank: 0, concurrency: Infinity },
        { topic: 't', rank: 1, concurrency: 1 },
      ],
    });
    const normal = sourceRecord('n');
    const due = { ...sourceRecord('d'), released: true };
    const urgent = sourceRecord('u', 'urgent');
    for (const r of [normal, due, urgent]) scheduler.enqueue(r);
    expect(scheduler.takeRunnable()).toEqual([urgent, due]);
    scheduler.complete(due);
    expect(scheduler.takeRunnable()).toEqual([normal]);
  });

  it('ranks a retry below a higher-priority topic and shares its source topic concurrency', () => {
    const scheduler = new KeyScheduler<LaneRecord>({
      ordering: 'key',
      concurrency: 10,
      topicShares: [
        { topic: 'urgent', rank: 0, concurrency: Infinity },
        { topic: 't', rank: 1, concurrency: 1 },
      ],
    });
    const retries = [tierRecord('r1'), tierRecord('r2')];
    const urgent = sourceRecord('u', 'urgent');
    const normal = sourceRecord('n');
    for (const r of [...retries, normal, urgent]) scheduler.enqueue(r);
    // 'urgent' first; then one of topic t's single slot, taken by a retry.
    expect(scheduler.takeRunnable()).toEqual([urgent, retries[0]]);
    scheduler.complete(retries[0]!);
    expect(scheduler.takeRunnable()).toEqual([retries[1]]);
    scheduler.complete(retries[1]!);
    expect(scheduler.takeRunnable()).toEqual([normal]);
  });

  it('gives a handler slot back on releaseSlot while the key stays busy until complete', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 1 });
    const [a1, a2, b1] = [record('a'), record('a'), record('b')];
    for (const r of [a1!, a2!, b1!]) scheduler.enqueue(r);
    expect(scheduler.takeRunnable()).toEqual([a1]);
    scheduler.releaseSlot(a1!);
    scheduler.releaseSlot(a1!); // once only
    // The slot went to another key; a's next record waits for a1 to complete.
    expect(scheduler.takeRunnable()).toEqual([b1]);
    expect(scheduler.inFlight).toBe(2);
    expect(scheduler.takeRunnable()).toEqual([]);
    scheduler.complete(a1!);
    expect(scheduler.takeRunnable()).toEqual([]); // b1 holds the only slot
    scheduler.complete(b1!);
    expect(scheduler.takeRunnable()).toEqual([a2]);
    scheduler.complete(a2!);
    expect(scheduler.inFlight).toBe(0);
  });

  it('keeps idle lanes for reuse and sweeps them when there are many, losing no record', () => {
    const scheduler = new KeyScheduler<LaneRecord>({ ordering: 'key', concurrency: 100 });
    for (let round = 0; round < 3; round++) {
      const records = Array.from({ length: 12_000 }, (_, index) => record(`k${index}`));
      for (const r of records) scheduler.enqueue(r);
      let started = 0;
      for (let batch = scheduler.takeRunnable(); batch.length > 0; batch = scheduler.takeRunnable()) {
        for (const r of batch) scheduler.complete(r);
        started += batch.length;
      }
      expect(started).toBe(12_000);
      expect(scheduler.queued).toBe(0);
      expect(scheduler.inFlight).toBe(0);
    }
  });
});
