import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConsumerEventEmitter } from '../../../../consumers/events.ts';
import { UndecodableBatchIntake, type UndecodableRecord } from '../../../../consumers/intake/undecodable-batch-intake.ts';
import type { ConsumedRecord } from '../../../../consumers/consumed-record.ts';

const batch = { baseOffset: '10', lastOffset: '12', recordCount: 3, codec: 'lz4', reason: 'lz4: checksum mismatch' };
const marker = (offset: string, partition = 0): UndecodableRecord => ({ topic: 't', sourceTopic: 't', partition, partitionId: `t\u0000${partition}`, offset, batch });

function harness({ skip, failFirstStubs = 0 }: { skip: boolean; failFirstStubs?: number }) {
  const tracked: string[] = [];
  const completed: string[] = [];
  const stubs: ConsumedRecord[] = [];
  const held: string[] = [];
  const events = new ConsumerEventEmitter();
  const reported: unknown[] = [];
  events.on('consumer.batch.undecodable', (event) => reported.push(event));
  let epoch = 1;
  let stubCalls = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const intake = new UndecodableBatchIntake({
    groupId: 'g',
    skip,
    logger: pino({ level: 'silent' }),
    events,
    track: ({ offset }) => tracked.push(offset),
    complete: ({ offset }, at) => at === epoch && completed.push(offset),
    deadLetter: async (stub) => {
      stubCalls++;
      await gate;
      if (stubCalls <= failFirstStubs) throw new Error('DLT unavailable');
      stubs.push(stub);
    },
    holdPartition: (id) => held.push(id),
    isCurrent: (at) => at === epoch,
  });
  return { intake, tracked, completed, stubs, held, reported, release, setEpoch: (next: number) => (epoch = next), stubCalls: () => stubCalls };
}

describe('UndecodableBatchIntake', () => {
  it('blocks: the partition is held and reported once per batch, and health names it until the partition is gone', () => {
    const { intake, held, reported, tracked } = harness({ skip: false });
    expect(intake.admit(marker('10'), 1)).toBe('blocked');
    expect(intake.admit(marker('10'), 1)).toBe('blocked'); // fetched again 30 s later
    expect(held).toEqual(['t\u00000', 't\u00000']);
    expect(reported).toEqual([{ topic: 't', partition: 0, offset: '10', lastOffset: '12', codec: 'lz4', action: 'blocked' }]);
    expect(tracked).toEqual([]);
    expect(intake.health().ready).toBe(false);
    expect(intake.health().reasons[0]).toMatch(/t partition 0 is stopped at an undecodable lz4 batch \(offsets 10\.\.12\): lz4: checksum mismatch/);
    intake.retain(new Set(['t\u00000']));
    expect(intake.blockedPartitions).toBe(1);
    intake.retain(new Set());
    expect(intake.health()).toEqual({ ready: true, reasons: [] });
  });

  it('skips: one stub per batch, and the offsets complete only once the DLT acknowledged it', async () => {
    const { intake, tracked, completed, stubs, reported, release } = harness({ skip: true });
    for (const offset of ['10', '11']) expect(intake.admit(marker(offset), 1)).toBe('taken');
    expect(tracked).toEqual(['10', '11']);
    expect(completed).toEqual([]);
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(completed).toEqual(['10', '11']);
    intake.admit(marker('12'), 1); // the rest of the batch, fetched after the stub was written
    expect(completed).toEqual(['10', '11', '12']);
    expect(stubs).toHaveLength(1);
    expect(stubs[0]).toMatchObject({ topic: 't', partition: 0, offset: '10', key: null, value: null });
    expect(reported).toEqual([expect.objectContaining({ action: 'skipped' })]);
  });

  it('skips: a stub the DLT refuses is tried again; a stub still unwritten when the epoch ends completes nothing', async () => {
    const retried = harness({ skip: true, failFirstStubs: 1 });
    retried.intake.admit(marker('10'), 1);
    retried.release();
    // The first retry comes after 1 s: wait for it (a generous bound on a loaded machine).
    for (const deadline = Date.now() + 10_000; retried.completed.length === 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(retried.stubCalls()).toBe(2);
    expect(retried.completed).toEqual(['10']);

    const moved = harness({ skip: true });
    moved.intake.admit(marker('10'), 1);
    moved.setEpoch(2); // the partition was revoked
    moved.release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(moved.completed).toEqual([]);
  });
});
