import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../producers/token-bucket.ts';

/** A clock that only moves when a taker sleeps: the bucket's arithmetic, without real time. */
function fakeTime() {
  const clock = { now: 0, sleeps: [] as number[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.now += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('starts full, then admits ratePerSecond on average', async () => {
    const { clock, now, sleep } = fakeTime();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 10, now, sleep });
    for (let index = 0; index < 10; index++) expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    for (let index = 0; index < 200; index++) await bucket.take(1);
    // 200 tokens at 100/s after the burst: 2 s of the clock, not less.
    expect(clock.now).toBeGreaterThanOrEqual(2_000);
    expect(clock.now).toBeLessThan(2_050);
  });

  it('never banks more than burst', () => {
    const { clock, now, sleep } = fakeTime();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 5, now, sleep });
    clock.now = 60_000;
    expect(bucket.available).toBe(5);
    expect(bucket.tryTake(6)).toBe(false);
    expect(bucket.tryTake(5)).toBe(true);
  });

  it('serves takers in order: a later small take does not jump an earlier large one', async () => {
    const { now, sleep } = fakeTime();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 10, now, sleep });
    expect(bucket.tryTake(10)).toBe(true);
    const order: string[] = [];
    const large = bucket.take(8).then(() => order.push('large'));
    const small = bucket.take(1).then(() => order.push('small'));
    expect(bucket.tryTake(1)).toBe(false); // someone waits: no jumping the queue
    await Promise.all([large, small]);
    expect(order).toEqual(['large', 'small']);
  });

  it('refuses a take larger than the burst', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 });
    expect(() => bucket.take(4)).toThrow(RangeError);
  });

  it('an aborted take clears its sleep timer: nothing keeps the process alive after the abort', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    // 0.2 tokens a second: the second take sleeps 5 s.
    const bucket = new TokenBucket({ ratePerSecond: 0.2, burst: 1 });
    expect(bucket.tryTake(1)).toBe(true);
    const before = timers();
    const controller = new AbortController();
    const waiting = bucket.take(1, controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers()).toBe(before + 1);
    controller.abort(new Error('closing'));
    await expect(waiting).rejects.toThrow('closing');
    expect(timers()).toBe(before);
  });
});
