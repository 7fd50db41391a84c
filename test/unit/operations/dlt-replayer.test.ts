import { describe, expect, it } from 'vitest';
import { planDltReplay, replayHeadersOf, type ReplayPlanOptions } from '../../../operations/dlt-replayer.ts';
import { planDltPurge } from '../../../operations/dlt-purger.ts';
import { DltRateLimiter } from '../../../operations/dlt-rate-limiter.ts';
import { DltPayloadDecoder } from '../../../operations/dlt-payload-decoder.ts';
import { dltRecord } from './dlt-record-fixtures.ts';

const base: ReplayPlanOptions = { sourceTopic: 'orders', groupId: 'billing', maxReplays: 3, includeReplayed: false, replaysOf: () => 0, parkedStateOf: () => undefined };

describe('dlt replay plan', () => {
  it('sends unparked keys to the source, parked keys into their lane through tier 1, and refuses records replayed too often', () => {
    const records = [dltRecord(0, 1, { key: 'a', eventId: 'e1' }), dltRecord(0, 2, { key: 'held', eventId: 'e2' }), dltRecord(1, 3, { key: 'b', eventId: 'e3', replayCount: 2 }), dltRecord(1, 4, { key: 'c', eventId: 'e4' })];
    const plan = planDltReplay(records, {
      ...base,
      replaysOf: (record) => (record.offset === '3' ? 1 : record.offset === '4' ? 1 : 0),
      includeReplayed: true,
      parkedStateOf: (record) => (record.key === 'held' ? { queue: [], headTier: 2, held: true, parkedAt: 1 } : undefined),
    });
    expect(plan.map((item) => [item.action, item.destination, item.replayCount])).toEqual([
      ['source', 'orders p0', 1],
      ['lane', 'orders.billing.retry.1 p0 (lane of parked key)', 1],
      ['refused', 'replayed 3 time(s), --max-replays is 3', 4],
      ['source', 'orders p1', 2],
    ]);
  });

  it('skips records replayed before unless asked, and derives the id of an event without one as the consumer does', () => {
    const plan = planDltReplay([dltRecord(0, 1), dltRecord(0, 2)], { ...base, replaysOf: (record) => (record.offset === '1' ? 1 : 0) });
    expect(plan.map((item) => item.action)).toEqual(['skipped', 'source']);
    expect(plan[1]!.eventId).toBe('orders:0:20');
  });

  it('strips the failure headers, keeps original-* and the event id, counts the replay, and marks a lane record due now at level 0', () => {
    const [source, lane] = planDltReplay([dltRecord(0, 1, { key: 'a', eventId: 'e1', replayCount: 1 }), dltRecord(0, 2, { key: 'p', eventId: 'e2' })], { ...base, parkedStateOf: (record) => (record.key === 'p' ? { queue: [], headTier: 1, held: true, parkedAt: 1 } : undefined) });
    const headers = replayHeadersOf(source!, 5_000);
    expect(headers).toMatchObject({ 'orderly-event-id': 'e1', 'orderly-replay-count': '2', 'orderly-original-offset': '10', 'orderly-original-topic': 'orders', traceparent: expect.any(String) });
    for (const stale of ['orderly-dlt-reason', 'orderly-error-type', 'orderly-error-message', 'orderly-error-stack', 'orderly-error-fingerprint', 'orderly-attempt', 'orderly-due-at']) expect(headers).not.toHaveProperty(stale);
    expect(replayHeadersOf(lane!, 5_000)).toMatchObject({ 'orderly-event-id': 'e2', 'orderly-due-at': '5000', 'orderly-retry-level': '0', 'orderly-attempt': '0', 'orderly-tier': '1', 'orderly-replay-count': '1' });
  });
});

describe('dlt purge plan', () => {
  it('deletes per partition the longest prefix of replayed records and says which record blocks the rest', () => {
    const records = [dltRecord(0, 4), dltRecord(0, 5), dltRecord(0, 6), dltRecord(1, 0), dltRecord(1, 1)];
    const plans = planDltPurge(
      records,
      [{ partition: 0, low: '4', high: '7' }, { partition: 1, low: '0', high: '2' }, { partition: 2, low: '3', high: '3' }],
      (record) => (record.partition === 0 ? ['4', '6'] : ['0', '1']).includes(record.offset),
    );
    expect(plans.map((plan) => [plan.partition, plan.deleteBefore, plan.purged.length, plan.kept, plan.blockedBy?.offset])).toEqual([
      [0, '5', 1, 2, '5'],
      [1, '2', 2, 0, undefined],
      [2, '3', 0, 0, undefined],
    ]);
  });
});

describe('dlt replay rate limiter', () => {
  it('lets a burst through, then holds the rate, a large batch waiting off its debt', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new DltRateLimiter({ ratePerSecond: 10, now: () => now, wait: async (ms) => { waits.push(ms); now += ms; } });
    for (let index = 0; index < 10; index++) await limiter.take();
    expect(waits).toEqual([]);
    await limiter.take();
    expect(waits).toEqual([100]);
    await limiter.take(20);
    expect(waits.at(-1)).toBe(2_000);
  });
});

describe('dlt payload decoder', () => {
  it('shows JSON, text and raw bytes, and never throws on bad Avro', async () => {
    const failing = { schemaById: async () => { throw new Error('registry down'); }, subjectsOfId: async () => [] };
    const decoder = new DltPayloadDecoder({ registry: failing });
    expect(await decoder.decode(Buffer.from('{"a":1}'))).toEqual({ format: 'json', value: { a: 1 } });
    expect(await decoder.decode(Buffer.from('plain words'))).toEqual({ format: 'text', value: 'plain words' });
    expect(await decoder.decode(null)).toEqual({ format: 'empty', value: null });
    const avroLike = Buffer.from([0, 0, 0, 0, 7, 0xff, 0xfe]);
    const decoded = await decoder.decode(avroLike);
    expect(decoded).toMatchObject({ format: 'binary', value: avroLike.toString('base64'), avroError: expect.stringMatching(/registry down/) });
  });
});
