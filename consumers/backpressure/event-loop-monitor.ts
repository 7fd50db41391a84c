/**
 * Samples event-loop delay (perf_hooks) and reports when it passes `maxDelayMs` (fetching should pause) and
 * when it is back under half of it (fetching may resume). The p99 of each sampling window is judged.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export class EventLoopMonitor {
  private readonly histogram: ReturnType<typeof monitorEventLoopDelay>;
  private readonly maxDelayMs: number;
  private readonly onChange: (overloaded: boolean) => void;
  private timer: NodeJS.Timeout | undefined;
  overloaded = false;
  lastP99Ms = 0;

  constructor({ maxDelayMs, intervalMs = 500, onChange }: { maxDelayMs: number; intervalMs?: number; onChange: (overloaded: boolean) => void }) {
    this.maxDelayMs = maxDelayMs;
    this.onChange = onChange;
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.lastP99Ms = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    const overloaded = this.overloaded ? this.lastP99Ms > this.maxDelayMs / 2 : this.lastP99Ms > this.maxDelayMs;
    if (overloaded !== this.overloaded) {
      this.overloaded = overloaded;
      this.onChange(overloaded);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
