/**
 * Replay records written before replays were keyed by the record's identity: `orderly:<group>:replayed:<dlt>:<p>`,
 * field = DLT offset. After the upgrade they still count (a record replayed twice before it is not shown as
 * never replayed, nor replayed again past `--max-replays`), and each moves to its record's identity once.
 */
import { describe, expect, it } from 'vitest';
import { DltReplayStore, dltRecordIdentityOf } from '../../../operations/dlt-replay-store.ts';
import { dltRecord } from '../../unit/operations/dlt-record-fixtures.ts';
import { testRedis } from '../../support/consumer-harness.ts';
import { testGroupId } from '../../support/test-stack.ts';

describe('replay records of earlier versions', () => {
  it('are read from the offset-keyed hash and moved to the identity, counted once', async () => {
    const redis = testRedis();
    const groupId = testGroupId();
    const store = new DltReplayStore({ redis, groupId });
    const legacy = `orderly:${groupId}:replayed:orders.billing.dlt:0`;
    const current = store.hashOf('orders.billing.dlt', 0);
    await redis.del(legacy, current);
    await redis.hset(legacy, { '3': '2', '5': '1', '1': '4' });
    const records = [dltRecord(0, 3), dltRecord(0, 4), dltRecord(0, 5)];

    const before = await store.replaysOf(records);
    expect(records.map((record) => before.get(record))).toEqual([2, 0, 1]);
    // Moved: the identity holds the count, the offset field is gone (offset 1 has no record in this read: left).
    expect(await redis.hgetall(legacy)).toEqual({ '1': '4' });
    expect(await redis.hget(current, dltRecordIdentityOf(records[0]!))).toBe('2');

    expect(await store.markReplayed(records[0]!)).toBe(3);
    const after = await store.replaysOf(records);
    expect(records.map((record) => after.get(record))).toEqual([3, 0, 1]);

    // A purge's prune forgets old entries no record answers to any more.
    expect(await store.prune('orders.billing.dlt', 0, records, '6')).toBe(1);
    expect(await redis.exists(legacy)).toBe(0);
    await redis.del(current);
  });

  it('two readers migrating at once do not count a record twice', async () => {
    const redis = testRedis();
    const groupId = testGroupId();
    const legacy = `orderly:${groupId}:replayed:orders.billing.dlt:0`;
    await redis.hset(legacy, { '7': '2' });
    const record = dltRecord(0, 7);
    const [first, second] = await Promise.all([
      new DltReplayStore({ redis, groupId }).replaysOf([record]),
      new DltReplayStore({ redis, groupId }).replaysOf([record]),
    ]);
    expect([first.get(record), second.get(record)]).toEqual([2, 2]);
    expect((await new DltReplayStore({ redis, groupId }).replaysOf([record])).get(record)).toBe(2);
    await redis.del(legacy, new DltReplayStore({ redis, groupId }).hashOf('orders.billing.dlt', 0));
  });
});

