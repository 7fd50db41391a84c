import { describe, expect, it } from 'vitest';
import { KeyOrderGate } from '../../../producers/key-order-gate.ts';
import { InFlightLimiter } from '../../../producers/in-flight-limiter.ts';
import { TokenBucket } from '../../../producers/token-bucket.ts';

describe('KeyOrderGate', () => {
  it('lets a send of a key wait for the earlier ones of that key only, and fails it when one of them failed', async () => {
    const gate = new KeyOrderGate();
    const a1 = gate.enter(['a']);
    const b1 = gate.enter(['b']);
    const a2 = gate.enter(['a', 'c']);
    const c1 = gate.enter(['c']);
    expect(await a1.earlier).toBe(true);
    expect(await b1.earlier).toBe(true);
    let a2Settled = false;
    void a2.earlier.then(() => (a2Settled = true));
    await Promise.resolve();
    expect(a2Settled).toBe(false);
    a1.done(false);
    expect(await a2.earlier).toBe(false);
    a2.done(false); // not sent
    expect(await c1.earlier).toBe(false); // c's earlier send (inside a2) was not written either
    c1.done(false);
    b1.done(true);
    expect(gate.keys).toBe(0);
    // Settled: the key starts afresh.
    const a3 = gate.enter(['a']);
    expect(await a3.earlier).toBe(true);
    a3.done(true);
  });
});

describe('waits that close() aborts', () => {
  it('InFlightLimiter.acquire gives its place up and rejects with the reason; later waiters are served', async () => {
    const limiter = new InFlightLimiter(2);
    await limiter.acquire(2);
    const controller = new AbortController();
    const first = limiter.acquire(2, controller.signal);
    const second = limiter.acquire(1);
    controller.abort(new Error('closed'));
    await expect(first).rejects.toThrow('closed');
    limiter.release(1);
    await second;
    expect(limiter.inFlight).toBe(2);
    await expect(limiter.acquire(1, controller.signal)).rejects.toThrow('closed');
  });

  it('TokenBucket.take rejects at once on abort, and the takers after it go on', async () => {
    let now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, now: () => now, sleep: async (ms) => { now += ms; } });
    await bucket.take(1);
    const controller = new AbortController();
    controller.abort(new Error('closed'));
    await expect(bucket.take(1, controller.signal)).rejects.toThrow('closed');
    await bucket.take(1);
    expect(now).toBe(1_000);
  });
});
