import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../consumers/offsets/offset-tracker.ts';

describe('OffsetTracker', () => {
  it('commits only the contiguous low watermark of completed records', () => {
    const tracker = new OffsetTracker();
    for (const offset of ['10', '11', '12', '13']) tracker.track('t', 0, offset);
    expect(tracker.watermark('t', 0)).toBe('10');
    tracker.complete('t', 0, '12');
    tracker.complete('t', 0, '11');
    expect(tracker.watermark('t', 0)).toBe('10');
    tracker.complete('t', 0, '10');
    expect(tracker.watermark('t', 0)).toBe('13');
    tracker.complete('t', 0, '13');
    expect(tracker.watermark('t', 0)).toBe('14');
  });

  it('steps over offsets it never saw (transaction markers, compaction)', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 0, '5');
    tracker.track('t', 0, '9');
    tracker.complete('t', 0, '5');
    expect(tracker.watermark('t', 0)).toBe('9');
    tracker.complete('t', 0, '9');
    expect(tracker.watermark('t', 0)).toBe('10');
  });

  it('lists each moved watermark once until it moves again', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 0, '0');
    tracker.track('t', 1, '0');
    tracker.complete('t', 0, '0');
    const first = tracker.uncommitted();
    expect(first).toEqual([{ topic: 't', partition: 0, offset: '1' }, { topic: 't', partition: 1, offset: '0' }]);
    for (const offset of first) tracker.markCommitted(offset);
    expect(tracker.uncommitted()).toEqual([]);
    tracker.complete('t', 1, '0');
    expect(tracker.uncommitted()).toEqual([{ topic: 't', partition: 1, offset: '1' }]);
  });

  it('ignores completions for a dropped (revoked) partition', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 3, '100');
    tracker.drop({ topic: 't', partition: 3 });
    expect(tracker.complete('t', 3, '100')).toBe(false);
    expect(tracker.watermark('t', 3)).toBeUndefined();
    expect(tracker.uncommitted()).toEqual([]);
  });

  it('refuses offsets that go backwards within a partition', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 0, '7');
    expect(() => tracker.track('t', 0, '6')).toThrow(/arrived after/);
  });

  it('handles offsets past 2^53 exactly', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 0, '9007199254740993');
    tracker.complete('t', 0, '9007199254740993');
    expect(tracker.watermark('t', 0)).toBe('9007199254740994');
  });

  it('keeps the watermark exact across many records completed in any order', () => {
    const tracker = new OffsetTracker();
    const offsets = Array.from({ length: 5_000 }, (_, index) => String(index * 2));
    for (const offset of offsets) tracker.track('t', 0, offset);
    // Completes every offset but 2000, shuffled deterministically; the watermark waits at 2000.
    const order = offsets.filter((offset) => offset !== '2000').sort((a, b) => ((Number(a) * 7919) % 5003) - ((Number(b) * 7919) % 5003));
    for (const offset of order) expect(tracker.complete('t', 0, offset)).toBe(true);
    expect(tracker.watermark('t', 0)).toBe('2000');
    expect(tracker.pendingCount('t', 0)).toBe(1);
    expect(tracker.complete('t', 0, '2001')).toBe(false);
    expect(tracker.complete('t', 0, '2002')).toBe(false);
    expect(tracker.complete('t', 0, '2000')).toBe(true);
    expect(tracker.watermark('t', 0)).toBe('9999');
    tracker.track('t', 0, '10000');
    expect(tracker.watermark('t', 0)).toBe('10000');
  });

  it('moves from safe-integer offsets to offsets past 2^53 within one partition', () => {
    const tracker = new OffsetTracker();
    tracker.track('t', 0, '9007199254740990');
    tracker.track('t', 0, '9007199254740991');
    tracker.track('t', 0, '9007199254740993');
    tracker.complete('t', 0, '9007199254740991');
    expect(tracker.watermark('t', 0)).toBe('9007199254740990');
    tracker.complete('t', 0, '9007199254740990');
    expect(tracker.watermark('t', 0)).toBe('9007199254740993');
    expect(tracker.complete('t', 0, '9007199254740992')).toBe(false);
    tracker.complete('t', 0, '9007199254740993');
    expect(tracker.watermark('t', 0)).toBe('9007199254740994');
    expect(() => tracker.track('t', 0, '9007199254740992')).toThrow(/arrived after 9007199254740993/);
  });
});
