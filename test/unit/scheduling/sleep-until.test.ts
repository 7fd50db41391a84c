import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleepUntil } from '../../../scheduling/sleep-until.ts';

describe('sleepUntil', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('waits on while the clock still reads before the deadline when the timer fires', async () => {
    const deadline = Date.now() + 100;
    let woke: number | undefined;
    void sleepUntil(deadline, Date.now, new AbortController().signal).then(() => (woke = Date.now()));
    // The wall clock lags the timer clock by 3 ms: the first timer fires at 997 by Date.now().
    vi.setSystemTime(Date.now() - 3);
    await vi.advanceTimersByTimeAsync(100);
    expect(woke).toBeUndefined();
    await vi.advanceTimersByTimeAsync(3);
    expect(woke).toBe(deadline);
  });

  it('returns at once for a deadline passed, and when aborted', async () => {
    await expect(sleepUntil(Date.now() - 1, Date.now, new AbortController().signal)).resolves.toBeUndefined();
    const control = new AbortController();
    let woke = false;
    void sleepUntil(Date.now() + 10_000, Date.now, control.signal).then(() => (woke = true));
    control.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(woke).toBe(true);
  });
});
