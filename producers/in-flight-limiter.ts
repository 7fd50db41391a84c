/**
 * Counts events in flight (from accepted to acknowledged) against a bound. Waiters are served first come,
 * first served, so a large request is not starved by small ones and the order of publishes is kept.
 */
interface Waiter {
  count: number;
  resolve: () => void;
}

export class InFlightLimiter {
  readonly limit: number;
  #inFlight = 0;
  readonly #waiters: Waiter[] = [];
  readonly #idle: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes `count` at once if they are free and nobody waits. */
  tryAcquire(count: number): boolean {
    if (this.#waiters.length > 0 || this.#inFlight + count > this.limit) return false;
    this.#inFlight += count;
    return true;
  }

  /**
   * Waits until `count` are free (`count` must not exceed the limit). An aborted `signal` rejects the wait with
   * the signal's reason and gives its place up.
   */
  acquire(count: number, signal?: AbortSignal): Promise<void> {
    if (count > this.limit) throw new RangeError(`cannot acquire ${count} of a limit of ${this.limit}`);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.tryAcquire(count)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index === -1) return; // served meanwhile
        this.#waiters.splice(index, 1);
        reject(signal!.reason as Error);
        this.#serve();
      };
      const waiter: Waiter = {
        count,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(count: number): void {
    this.#inFlight -= count;
    this.#serve();
  }

  #serve(): void {
    for (let head = this.#waiters[0]; head && this.#inFlight + head.count <= this.limit; head = this.#waiters[0]) {
      this.#waiters.shift();
      this.#inFlight += head.count;
      head.resolve();
    }
    if (this.#inFlight === 0 && this.#waiters.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves when nothing is in flight or waiting. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
