import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { HeldTierRecords } from '../../../consumers/retries/held-tier-records.ts';

interface Record {
  key: string;
  offset: number;
}

function setup() {
  const released: { record: Record; at: number }[] = [];
  const held = new HeldTierRecords<Record>({
    shardKeyOf: (record) => record.key,
    release: (records) => released.push(...records.map((record) => ({ record, at: Date.now() }))),
  });
  return { held, released };
}

describe('HeldTierRecords', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('does not hold a record that is due with nothing of its key ahead of it', () => {
    const { held } = setup();
    expect(held.hold('p0', { key: 'a', offset: 0 }, Date.now())).toBe(false);
    expect(held.size).toBe(0);
  });

  it('releases each record at its own due time, never before it', () => {
    const { held, released } = setup();
    const now = Date.now();
    held.hold('p0', { key: 'a', offset: 0 }, now + 100);
    held.hold('p0', { key: 'b', offset: 1 }, now + 50);
    expect(held.heldFor('p0')).toBe(2);
    vi.advanceTimersByTime(49);
    expect(released).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(released).toEqual([{ record: { key: 'b', offset: 1 }, at: now + 50 }]);
    vi.advanceTimersByTime(50);
    expect(released.map(({ record, at }) => [record.offset, at - now])).toEqual([
      [1, 50],
      [0, 100],
    ]);
    expect(held.size).toBe(0);
  });

  it('keeps the order of a key: a record due first still waits for an earlier record of its key', () => {
    const { held, released } = setup();
    const now = Date.now();
    held.hold('p0', { key: 'a', offset: 0 }, now + 100);
    held.hold('p0', { key: 'a', offset: 1 }, now + 10);
    // Due already, but its key has a record held ahead of it.
    expect(held.hold('p0', { key: 'a', offset: 2 }, now)).toBe(true);
    vi.advanceTimersByTime(99);
    expect(released).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(released.map(({ record }) => record.offset)).toEqual([0, 1, 2]);
  });

  it('holds a record on behind its released key head when it asks for a later time, keeping its key behind it', () => {
    const deliverAt = new Map<number, number>();
    const released: { record: Record; at: number }[] = [];
    const held = new HeldTierRecords<Record>({
      shardKeyOf: (record) => record.key,
      release: (records) => released.push(...records.map((record) => ({ record, at: Date.now() }))),
      holdAgainUntil: (record, now) => Math.max(now, deliverAt.get(record.offset) ?? 0),
    });
    const now = Date.now();
    held.hold('p0', { key: 'a', offset: 0 }, now + 100);
    // Held behind the head with no time of its own (its delay was beyond the horizon when it was fetched).
    deliverAt.set(1, now + 600);
    held.hold('p0', { key: 'a', offset: 1 }, 0);
    held.hold('p0', { key: 'a', offset: 2 }, 0);
    held.hold('p0', { key: 'b', offset: 3 }, now + 300);
    vi.advanceTimersByTime(100);
    expect(released.map(({ record }) => record.offset)).toEqual([0]);
    vi.advanceTimersByTime(200);
    expect(released.map(({ record }) => record.offset)).toEqual([0, 3]);
    vi.advanceTimersByTime(299);
    expect(released).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(released.map(({ record, at }) => [record.offset, at - now])).toEqual([
      [0, 100],
      [3, 300],
      [1, 600],
      [2, 600],
    ]);
    expect(held.size).toBe(0);
  });

  it('checks the wall clock when the timer fires', () => {
    const { held, released } = setup();
    const now = Date.now();
    held.hold('p0', { key: 'a', offset: 0 }, now + 100);
    // The wall clock lags the timer clock: the timer fires, the record is not yet due by Date.now().
    vi.advanceTimersByTime(100);
    expect(released).toHaveLength(1);
    expect(released[0]!.at).toBeGreaterThanOrEqual(now + 100);
    held.hold('p0', { key: 'b', offset: 1 }, Date.now() + 20);
    vi.setSystemTime(Date.now() - 5);
    vi.advanceTimersByTime(20);
    expect(released).toHaveLength(1);
    vi.advanceTimersByTime(5);
    expect(released).toHaveLength(2);
  });

  it('drops every held record and cancels the timers', () => {
    const { held, released } = setup();
    const now = Date.now();
    held.hold('p0', { key: 'a', offset: 0 }, now + 100);
    held.hold('p1', { key: 'b', offset: 0 }, now + 100);
    held.hold('p1', { key: 'b', offset: 1 }, now + 100);
    expect(held.drop().map((record) => `${record.key}${record.offset}`).sort()).toEqual(['a0', 'b0', 'b1']);
    expect(held.size).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(released).toEqual([]);
    // Held again after the drop (fetched again from the committed offset), released once.
    held.hold('p0', { key: 'a', offset: 0 }, Date.now() + 10);
    vi.advanceTimersByTime(10);
    expect(released.map(({ record }) => record.offset)).toEqual([0]);
  });
});

describe('HeldTierRecords far ahead', () => {
  it('waits for a record due beyond the longest timer Node keeps (24.8 days) with one timer, not a 1 ms loop', async () => {
    // Real timers: Node turns a setTimeout beyond 2^31-1 ms into 1 ms, which would re-arm every millisecond.
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    onTestFinished(() => timeouts.mockRestore());
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const { held, released } = setup();
    expect(held.hold('p0', { key: 'a', offset: 0 }, Date.now() + 30 * 24 * 3_600_000)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    const armed = timeouts.mock.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const rearmed = timeouts.mock.calls.length - armed - 1; // less the test's own wait
    expect({ rearmed, released: released.length, warnings }).toEqual({ rearmed: 0, released: 0, warnings: [] });
    held.drop();
  });
});
