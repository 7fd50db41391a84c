import { describe, expect, it } from 'vitest';
import { delayLevelFor, delayLevelOfTier, delayTierOf, delayTopicOf, holdHorizonMs, holdUntil, parseDelayTopic } from '../../../../consumers/delays/delay-levels.ts';
import { readDelay } from '../../../../consumers/delays/delay-headers.ts';
import { DelayedEvents } from '../../../../consumers/delays/delayed-events.ts';
import { rawHeadersOf } from '../../../../core/headers.ts';

const levels = [10_000, 300_000, 7_200_000];

describe('delay levels', () => {
  it('names levels by the layout rules and parses them back', () => {
    expect(delayTopicOf('orders', 'billing', 2)).toBe('orders.billing.delay.2');
    expect(parseDelayTopic('orders.billing.delay.2', 'billing', ['orders'])).toEqual({ sourceTopic: 'orders', level: 2 });
    expect(parseDelayTopic('orders.billing.retry.2', 'billing', ['orders'])).toBeUndefined();
    expect(parseDelayTopic('orders.billing.delay.0', 'billing', ['orders'])).toBeUndefined();
    expect(delayLevelOfTier(delayTierOf(3))).toBe(3);
    expect(delayLevelOfTier(4)).toBeUndefined(); // a retry tier
  });

  it('holds within the first interval plus the lead, else picks the highest level checked again before due', () => {
    expect(holdHorizonMs(levels)).toBe(15_000);
    expect(holdHorizonMs([])).toBe(Infinity);
    expect(delayLevelFor(15_000, levels)).toBeUndefined();
    expect(delayLevelFor(15_001, levels)).toBe(1);
    expect(delayLevelFor(305_000, levels)).toBe(2);
    expect(delayLevelFor(304_999, levels)).toBe(1);
    expect(delayLevelFor(86_400_000, levels)).toBe(3);
    expect(delayLevelFor(86_400_000, [])).toBeUndefined();
    // Whatever is left, the level's check comes at least the lead before the due time: never late by design.
    for (const remaining of [15_001, 20_000, 299_999, 305_000, 7_204_999, 7_205_000, 86_400_000]) {
      const level = delayLevelFor(remaining, levels)!;
      expect(levels[level - 1]! + 5_000).toBeLessThanOrEqual(remaining);
    }
  });

  it('holds a near-due record until its due time, and a far one only until it may start (never earlier than due)', () => {
    const now = 1_000_000;
    expect(holdUntil(now + 3_000, 0, now, 15_000)).toBe(now + 3_000);
    expect(holdUntil(now + 60_000, 0, now, 15_000)).toBe(0);
    expect(holdUntil(now + 3_000, now + 5_000, now, 15_000)).toBe(now + 5_000); // a level record: its check first
    expect(holdUntil(now - 10, 0, now, 15_000)).toBe(now - 10);
  });

  it('sends a successor to the level of its key head, or to a retry tier for a retry head', () => {
    const delays = new DelayedEvents({ groupId: 'g', levelsMs: levels });
    expect(delays.behindHead('t', delayTierOf(2))).toEqual({ topic: 't.g.delay.2', delayMs: 300_000, tier: delayTierOf(2) });
    expect(delays.behindHead('t', 2)).toBeUndefined();
    expect(delays.behindHead('t', delayTierOf(9))).toEqual({ topic: 't.g.delay.3', delayMs: 7_200_000, tier: delayTierOf(3) });
    expect(new DelayedEvents({ groupId: 'g', levelsMs: [] }).behindHead('t', delayTierOf(1))).toBeUndefined();
  });
});

describe('delay headers', () => {
  const headers = (given: Record<string, string | Buffer>) => rawHeadersOf(given);

  it('reads a due time and a cancel, the last value winning, and nothing for an ordinary record', () => {
    expect(readDelay(headers({ 'orderly-event-id': 'x' }))).toBeUndefined();
    expect(readDelay(headers({ 'orderly-deliver-at': '1700000000000' }))).toEqual({ kind: 'delayed', deliverAt: 1_700_000_000_000 });
    expect(readDelay([...headers({ 'orderly-deliver-at': '1' }), ...headers({ 'orderly-deliver-at': '2' })])).toEqual({ kind: 'delayed', deliverAt: 2 });
    expect(readDelay(headers({ 'orderly-cancels': 'e-1', 'orderly-deliver-at': '5' }))).toEqual({ kind: 'cancel', cancels: 'e-1' });
  });

  it('ignores malformed values', () => {
    for (const value of ['', '-5', '1.5', 'soon', '12345678901234567', Buffer.from([0xff, 0xfe])]) expect(readDelay(headers({ 'orderly-deliver-at': value }))).toBeUndefined();
    expect(readDelay(headers({ 'orderly-cancels': '' }))).toBeUndefined();
    expect(readDelay(headers({ 'orderly-cancels': 'x'.repeat(201) }))).toBeUndefined();
    expect(readDelay(headers({ 'orderly-deliver-ax': '5' }))).toBeUndefined(); // same length, another name
    // A cancel is a record without a value: on an event, the header is ignored (the event is handled, cancels nothing).
    expect(readDelay(headers({ 'orderly-cancels': 'e-1' }), Buffer.alloc(0))).toEqual({ kind: 'cancel', cancels: 'e-1' });
    expect(readDelay(headers({ 'orderly-cancels': 'e-1' }), Buffer.from('{}'))).toBeUndefined();
    expect(readDelay(headers({ 'orderly-cancels': 'e-1', 'orderly-deliver-at': '5' }), Buffer.from('{}'))).toEqual({ kind: 'delayed', deliverAt: 5 });
  });
});
