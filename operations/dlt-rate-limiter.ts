/**
 * A token bucket for replays: `ratePerSecond` tokens a second, up to `burst` saved. Taking more tokens than
 * there are goes into debt and waits it off, so a batch larger than the bucket still passes at the rate.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface DltRateLimiterOptions {
  /** Records per second; `Infinity` turns the limit off. */
  ratePerSecond: number;
  /** Tokens saved up while idle. @defaultValue max(1, ratePerSecond) */
  burst?: number;
  /** @defaultValue Date.now */
  now?: () => number;
  /** @defaultValue a timer */
  wait?: (ms: number) => Promise<void>;
}

export class DltRateLimiter {
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly wait: (ms: number) => Promise<void>;
  private tokens: number;
  private refilledAt: number;

  constructor({ ratePerSecond, burst = Math.max(1, ratePerSecond), now = Date.now, wait = (ms) => sleep(ms) }: DltRateLimiterOptions) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond (${ratePerSecond}) must be above 0`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.now = now;
    this.wait = wait;
    this.tokens = Math.min(burst, ratePerSecond === Infinity ? Infinity : burst);
    this.refilledAt = now();
  }

  /** Resolves once `count` tokens are taken. */
  async take(count = 1): Promise<void> {
    if (this.ratePerSecond === Infinity) return;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
    this.tokens -= count;
    if (this.tokens < 0) await this.wait(Math.ceil((-this.tokens / this.ratePerSecond) * 1000));
  }
}
