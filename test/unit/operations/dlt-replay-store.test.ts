import { describe, expect, it } from 'vitest';
import { dltRecordIdentityOf } from '../../../operations/dlt-replay-store.ts';
import { dltRecord } from './dlt-record-fixtures.ts';

describe('dltRecordIdentityOf', () => {
  it('is the offset plus a digest of what was written there: same record, same identity; a recreated topic\'s record differs', () => {
    const record = dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_000 });
    expect(dltRecordIdentityOf(record)).toMatch(/^7:[0-9a-f]{16}$/);
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_000 }))).toBe(dltRecordIdentityOf(record));
    // The same event dead-lettered again into a recreated DLT, at the same offset: written at another time.
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_001 }))).not.toBe(dltRecordIdentityOf(record));
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e2', timestamp: 1_700_000_100_000 }))).not.toBe(dltRecordIdentityOf(record));
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', key: 'key-2', timestamp: 1_700_000_100_000 }))).not.toBe(dltRecordIdentityOf(record));
  });
});

describe('DltReplayStore.replaysOf', () => {
  it('groups a large read by partition in linear time (80k records once took two minutes: the group was copied per record)', async () => {
    const { DltReplayStore } = await import('../../../operations/dlt-replay-store.ts');
    const asked: number[] = [];
    // Only the reads replaysOf makes; every record unreplayed.
    const redis = {
      hmget: (_hash: string, ...fields: string[]) => {
        asked.push(fields.length);
        return Promise.resolve(fields.map(() => null));
      },
    };
    const records = Array.from({ length: 60_000 }, (_, index) => dltRecord(0, index));
    const started = performance.now();
    const replays = await new DltReplayStore({ redis: redis as never, groupId: 'billing' }).replaysOf(records);
    const seconds = (performance.now() - started) / 1000;
    expect(replays.size).toBe(60_000);
    expect([...replays.values()].every((count) => count === 0)).toBe(true);
    // Quadratic grouping needed 25 s for half of them in each of two partitions (about 100 s in one); linear takes well under one. A bound no loaded machine misses.
    expect(seconds).toBeLessThan(15);
    expect(asked.every((count) => count <= 1_000)).toBe(true);
  }, 120_000);
});
