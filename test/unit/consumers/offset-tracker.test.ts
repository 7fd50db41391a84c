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
});
