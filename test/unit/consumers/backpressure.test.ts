import { describe, expect, it } from 'vitest';
import { BackpressureController } from '../../../consumers/backpressure/backpressure-controller.ts';
import { PauseController, type AssignedPartition } from '../../../consumers/backpressure/pause-controller.ts';
import { DueTimeGate } from '../../../consumers/retries/due-time-gate.ts';
import { KeyScheduler } from '../../../consumers/ordering/key-scheduler.ts';

const marks = (highRecords: number, lowRecords: number, highBytes = 1e9, lowBytes = 1e9 - 1) => ({ highRecords, lowRecords, highBytes, lowBytes });

describe('BackpressureController', () => {
  it('turns a partition pressured at its high mark and releases it only at its low mark', () => {
    const controller = new BackpressureController({ partition: marks(4, 2), member: marks(100, 50) });
    for (let index = 0; index < 3; index++) controller.add('p0', 't', 10);
    expect(controller.isPartitionPressured('p0')).toBe(false);
    expect(controller.add('p0', 't', 10)).toBe(true);
    expect(controller.isPartitionPressured('p0')).toBe(true);
    controller.remove('p0', 't', 10);
    expect(controller.isPartitionPressured('p0')).toBe(true); // 3 held: above the low mark
    expect(controller.remove('p0', 't', 10)).toBe(true);
    expect(controller.isPartitionPressured('p0')).toBe(false);
  });

  it('counts a held retry under its tier topic until it is due, then under its source topic (priority lanes)', () => {
    const controller = new BackpressureController({ partition: marks(3, 1), member: marks(100, 50) });
    for (let index = 0; index < 3; index++) controller.add('tier0', 't.g.retry.1', 10);
    expect(controller.recordsOfTopic('t')).toBe(0);
    expect(controller.isPartitionPressured('tier0')).toBe(true); // held retries still count against the marks
    controller.moveTopic('t.g.retry.1', 't', 2);
    expect(controller.recordsOfTopic('t')).toBe(2);
    expect(controller.recordsOfTopic('t.g.retry.1')).toBe(1);
    expect(controller.partitionLoad('tier0').records).toBe(3);
  });

  it('pressures the member on bytes across partitions', () => {
    const controller = new BackpressureController({ partition: marks(1_000, 500), member: { highRecords: 1_000, lowRecords: 500, highBytes: 1_000, lowBytes: 400 } });
    controller.add('p0', 't', 600);
    expect(controller.memberPressured).toBe(false);
    controller.add('p1', 't', 600);
    expect(controller.memberPressured).toBe(true);
    controller.remove('p0', 't', 600);
    expect(controller.memberPressured).toBe(true); // 600 > 400
    controller.remove('p1', 't', 600);
    expect(controller.memberPressured).toBe(false);
    expect(controller.memberLoad()).toEqual({ records: 0, bytes: 0 });
  });
});

describe('PauseController', () => {
  function setup(ranks = new Map<string, number>()) {
    const calls: string[] = [];
    const backpressure = new BackpressureController({ partition: marks(2, 1), member: marks(100, 50) });
    const gate = new DueTimeGate(() => undefined);
    const controller = new PauseController({
      pause: (topic, partition) => calls.push(`pause ${topic}/${partition}`),
      resume: (topic, partition) => calls.push(`resume ${topic}/${partition}`),
      backpressure,
      gate,
      ranks,
      priorityBacklogRecords: 1,
    });
    return { calls, backpressure, gate, controller };
  }
  const partition = (topic: string, number: number): AssignedPartition => ({ id: `${topic}/${number}`, topic, partition: number, sourceTopic: topic });

  it('pauses once per change and resumes when every reason is gone', () => {
    const { calls, backpressure, gate, controller } = setup();
    controller.setAssignment([partition('t', 0), partition('t', 1)]);
    backpressure.add('t/0', 't', 1);
    backpressure.add('t/0', 't', 1);
    gate.holdUntil('t/0', Date.now() + 60_000);
    controller.reconcile();
    controller.reconcile();
    expect(calls).toEqual(['pause t/0']);
    backpressure.remove('t/0', 't', 1);
    backpressure.remove('t/0', 't', 1);
    controller.reconcile();
    expect(calls).toEqual(['pause t/0']); // still held by the retry gate
    gate.clear();
    controller.reconcile();
    expect(calls).toEqual(['pause t/0', 'resume t/0']);
  });

  it('keeps the pause of a partition that stays after a rebalance and clears it for a revoked one', () => {
    const { calls, controller } = setup();
    controller.setAssignment([partition('t', 0), partition('t', 1)]);
    controller.eventLoopOverloaded = true;
    controller.reconcile();
    expect(controller.pausedCount).toBe(2);
    calls.length = 0;
    controller.setAssignment([partition('t', 1), partition('t', 2)]);
    expect(calls.sort()).toEqual(['pause t/2', 'resume t/0']);
    expect(controller.paused().map((assigned) => assigned.id).sort()).toEqual(['t/1', 't/2']);
  });

  it('pauses a lower-priority lane while a higher one holds a backlog', () => {
    const { calls, backpressure, controller } = setup(new Map([['payments', 0], ['reports', 2]]));
    controller.setAssignment([partition('payments', 0), partition('reports', 0)]);
    backpressure.add('payments/0', 'payments', 1);
    controller.reconcile();
    expect(calls).toEqual([]); // a backlog of 1 is not above the threshold of 1
    backpressure.add('payments/1', 'payments', 1);
    controller.reconcile();
    expect(calls).toEqual(['pause reports/0']);
  });
});

describe('KeyScheduler priority lanes', () => {
  const record = (topic: string, key: string, offset: number) => ({ topic, partition: 0, offset: String(offset), key: Buffer.from(key) });

  it('serves the higher-priority topic first and caps each lane at its own concurrency', () => {
    const scheduler = new KeyScheduler<ReturnType<typeof record>>({
      ordering: 'key',
      concurrency: 10,
      topicShares: [
        { topic: 'payments', rank: 0, concurrency: 3 },
        { topic: 'reports', rank: 2, concurrency: 2 },
      ],
    });
    for (let index = 0; index < 5; index++) scheduler.enqueue(record('reports', `r${index}`, index));
    for (let index = 0; index < 5; index++) scheduler.enqueue(record('payments', `p${index}`, index));
    const started = scheduler.takeRunnable();
    expect(started.map((started) => started.topic)).toEqual(['payments', 'payments', 'payments', 'reports', 'reports']);
    scheduler.complete(started[0]!);
    expect(scheduler.takeRunnable().map((next) => next.topic)).toEqual(['payments']);
  });
});
