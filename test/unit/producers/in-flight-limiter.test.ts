import { describe, expect, it } from 'vitest';
import { InFlightLimiter } from '../../../producers/in-flight-limiter.ts';

describe('InFlightLimiter', () => {
  it('grants up to the limit, serves waiters first come first served, and signals idle', async () => {
    const limiter = new InFlightLimiter(3);
    expect(limiter.tryAcquire(2)).toBe(true);
    const order: string[] = [];
    const big = limiter.acquire(3).then(() => order.push('big'));
    const small = limiter.acquire(1).then(() => order.push('small'));
    // A small request does not jump the queue, even though one slot is free.
    expect(limiter.tryAcquire(1)).toBe(false);
    await Promise.resolve();
    expect(order).toEqual([]);
    limiter.release(2);
    await big;
    expect(limiter.inFlight).toBe(3);
    let idle = false;
    const idling = limiter.idle().then(() => (idle = true));
    limiter.release(3);
    await small;
    expect(order).toEqual(['big', 'small']);
    expect(idle).toBe(false);
    limiter.release(1);
    await idling;
    expect(limiter.inFlight).toBe(0);
    expect(() => limiter.acquire(4)).toThrow(RangeError);
  });
});
