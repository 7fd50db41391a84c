/**
 * Measures event-loop delay as the lateness of a 50 ms timer and reports when the worst lateness in a 500 ms
 * window passes `maxDelayMs` (fetching should pause), and when a whole window stayed within it (fetching may
 * resume). A timer of our own, because perf_hooks' monitorEventLoopDelay missed a 1.5 s block of a promise
 * chain in a test on Node 24, and one long block is exactly what must be caught.
 */
const tickMs = 50;

export class EventLoopMonitor {
  private readonly maxDelayMs: number;
  private readonly onChange: (overloaded: boolean) => void;
  private readonly ticker: NodeJS.Timeout;
  private readonly sampler: NodeJS.Timeout;
  private lastTick = performance.now();
  private windowMaxMs = 0;
  overloaded = false;
  lastMaxMs = 0;

  constructor({ maxDelayMs, intervalMs = 500, onChange }: { maxDelayMs: number; intervalMs?: number; onChange: (overloaded: boolean) => void }) {
    this.maxDelayMs = maxDelayMs;
    this.onChange = onChange;
    this.ticker = setInterval(() => {
      const now = performance.now();
      this.windowMaxMs = Math.max(this.windowMaxMs, now - this.lastTick - tickMs);
      this.lastTick = now;
    }, tickMs);
    this.sampler = setInterval(() => this.sample(), intervalMs);
    this.ticker.unref();
    this.sampler.unref();
  }

  private sample(): void {
    // A block still in progress shows as the time since the last tick.
    this.lastMaxMs = Math.max(this.windowMaxMs, performance.now() - this.lastTick - tickMs, 0);
    this.windowMaxMs = 0;
    const overloaded = this.lastMaxMs > this.maxDelayMs;
    if (overloaded !== this.overloaded) {
      this.overloaded = overloaded;
      this.onChange(overloaded);
    }
  }

  stop(): void {
    clearInterval(this.ticker);
    clearInterval(this.sampler);
  }
}
