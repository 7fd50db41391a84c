/**
 * Simulated time for the model tests: `setTimeout`, `clearTimeout`, `Date.now`, `performance.now` and `Math.random` are replaced
 * while a run lasts, so backoffs, handler deadlines, leases and due times pass in simulated time, in a fixed
 * order, and a seed replays exactly. Timers fire one at a time, each followed by every microtask it caused.
 * (`node:timers/promises` is mocked onto these timers by the test files: see fake-sleep.ts.)
 */
interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

const realSetImmediate = globalThis.setImmediate;

/** A timer handle with the methods Node code may call on one. */
class TimerHandle {
  readonly id: number;
  constructor(id: number) {
    this.id = id;
  }
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

export class SimClock {
  now: number;
  private readonly start: number;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;
  private randomState: number;
  private saved: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout; now: typeof Date.now; random: typeof Math.random } | undefined;

  constructor({ start = 1_800_000_000_000, seed = 1 }: { start?: number; seed?: number } = {}) {
    this.now = start;
    this.start = start;
    this.randomState = seed >>> 0 || 1;
  }

  install(): void {
    this.saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, now: Date.now, random: Math.random };
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const id = this.nextId++;
      this.timers.set(id, { id, at: this.now + Math.max(0, Number(ms) || 0), fn: () => fn(...args) });
      return new TimerHandle(id);
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((handle: unknown) => {
      if (handle !== undefined && handle !== null) this.timers.delete(Number(handle));
    }) as typeof clearTimeout;
    Date.now = () => this.now;
    // Handler deadlines are measured with performance.now().
    Object.defineProperty(performance, 'now', { value: () => this.now - this.start, configurable: true, writable: true });
    // xorshift32: deterministic jitter.
    Math.random = () => {
      let x = this.randomState;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.randomState = x >>> 0;
      return this.randomState / 0x1_0000_0000;
    };
  }

  uninstall(): void {
    if (!this.saved) return;
    globalThis.setTimeout = this.saved.setTimeout;
    globalThis.clearTimeout = this.saved.clearTimeout;
    Date.now = this.saved.now;
    Math.random = this.saved.random;
    delete (performance as { now?: unknown }).now;
    this.saved = undefined;
    this.timers.clear();
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Runs every microtask queued so far (and those they queue). */
  flush(): Promise<void> {
    return new Promise((resolve) => realSetImmediate(resolve));
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      await this.flush();
      let next: Timer | undefined;
      for (const timer of this.timers.values()) if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) next = timer;
      if (!next) break;
      this.timers.delete(next.id);
      this.now = Math.max(this.now, next.at);
      next.fn();
    }
    this.now = target;
    await this.flush();
  }
}
