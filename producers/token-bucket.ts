/**
 * A token bucket: `ratePerSecond` tokens flow in continuously, up to `burst` banked. Taking waits until enough
 * tokens are there; takers are served first come, first served, so the order of publishes is kept and a
 * large request is not starved by small ones. The clock and the sleep are injectable for unit tests.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

export interface TokenBucketOptions {
  ratePerSecond: number;
  /** Tokens banked at most (and at the start). */
  burst: number;
  /** Milliseconds, monotonic. @defaultValue performance.now */
  now?: () => number;
  /** Sleeps `ms`; an aborted `signal` should end the sleep (and clear its timer). @defaultValue node:timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Aborting clears the timer: an abandoned wait must not keep the process alive until it would have fired. */
const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleepFor(ms, undefined, signal ? { signal } : {});

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #tokens: number;
  #refilledAt: number;
  #waiting = 0;
  #turn: Promise<void> = Promise.resolve();

  constructor({ ratePerSecond, burst, now = () => performance.now(), sleep = defaultSleep }: TokenBucketOptions) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#now = now;
    this.#sleep = sleep;
    this.#tokens = burst;
    this.#refilledAt = now();
  }

  /** Tokens available now (fractional). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `count` tokens at once if they are there and nobody waits before us. */
  tryTake(count: number): boolean {
    this.#refill();
    if (this.#waiting > 0 || this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /**
   * Waits for `count` tokens (at most `burst`), after every earlier taker. An aborted `signal` rejects the wait
   * at once with the signal's reason, taking no tokens; the takers after it go on.
   */
  take(count: number, signal?: AbortSignal): Promise<void> {
    if (count > this.burst) throw new RangeError(`cannot take ${count} tokens from a bucket of burst ${this.burst}`);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.tryTake(count)) return Promise.resolve();
    this.#waiting++;
    const turn = this.#turn.then(() => this.#waitFor(count, signal)).finally(() => this.#waiting--);
    this.#turn = turn.catch(() => undefined);
    return turn;
  }

  async #waitFor(count: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      this.#refill();
      if (this.#tokens >= count) {
        this.#tokens -= count;
        return;
      }
      // The sleep gets the signal (to clear its timer); abortable() also ends a sleep that ignores it.
      await abortable(this.#sleep(Math.max(1, Math.ceil(((count - this.#tokens) * 1000) / this.ratePerSecond)), signal), signal);
    }
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#refilledAt) * this.ratePerSecond) / 1000);
    this.#refilledAt = now;
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
