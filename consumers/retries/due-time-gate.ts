/**
 * Holds a retry-tier partition until its head record is due: one timer per partition, no sleeping handler and
 * no polling. The consumer asks {@link DueTimeGate.isHeld} when it decides what to pause, and is told through
 * `onChange` when a hold ends.
 */
import { maxTimerMs } from './held-tier-records.ts';

export class DueTimeGate {
  private readonly onChange: () => void;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(onChange: () => void) {
    this.onChange = onChange;
  }

  get size(): number {
    return this.timers.size;
  }

  isHeld(partitionId: string): boolean {
    return this.timers.has(partitionId);
  }

  holdUntil(partitionId: string, dueAt: number): void {
    clearTimeout(this.timers.get(partitionId));
    const timer = setTimeout(() => {
      this.timers.delete(partitionId);
      this.onChange();
      // Capped (Node fires a longer timeout after 1 ms): released early, the partition is fetched and held again.
    }, Math.min(maxTimerMs, Math.max(0, dueAt - Date.now())));
    this.timers.set(partitionId, timer);
  }

  /** Cancels every hold (rebalance, stop). */
  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
