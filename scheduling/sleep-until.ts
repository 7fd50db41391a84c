/**
 * Timers for the scheduler: a slot's tick is committed at its slot, never before it by the scheduler's clock.
 * A Node timer runs on the monotonic clock, which can be ahead of `Date.now()` by a millisecond or after a
 * clock step, so a timer set for `slot - now` may fire while the clock still reads before the slot: the wait is
 * re-armed until the clock reaches the deadline.
 */

/** Waits `ms` (at least 0), or until `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Waits until `now()` reads `deadline` or later, or until `signal` aborts. */
export async function sleepUntil(deadline: number, now: () => number, signal: AbortSignal): Promise<void> {
  for (let left = deadline - now(); left > 0 && !signal.aborted; left = deadline - now()) await sleep(left, signal);
}
