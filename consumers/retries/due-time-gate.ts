/**
 * Holds a retry-tier partition paused until its head record is due, then resumes it: one timer per partition,
 * no sleeping handler and no polling. Resuming is left to the caller's `resume`, which keeps a partition
 * paused for backpressure paused.
 */
export interface DueTimeGateActions {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
}

export class DueTimeGate {
  private readonly actions: DueTimeGateActions;
  private readonly timers = new Map<string, { topic: string; partition: number; timer: NodeJS.Timeout; dueAt: number }>();

  constructor(actions: DueTimeGateActions) {
    this.actions = actions;
  }

  get size(): number {
    return this.timers.size;
  }

  holdUntil(topic: string, partition: number, dueAt: number): void {
    const id = `${topic}\u0000${partition}`;
    const existing = this.timers.get(id);
    if (existing) clearTimeout(existing.timer);
    else this.actions.pause(topic, partition);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.actions.resume(topic, partition);
    }, Math.max(0, dueAt - Date.now()));
    this.timers.set(id, { topic, partition, timer, dueAt });
  }

  /** Cancels every timer (rebalance, stop); returns the partitions that were held. */
  clear(): { topic: string; partition: number }[] {
    const held = [...this.timers.values()];
    for (const { timer } of held) clearTimeout(timer);
    this.timers.clear();
    return held.map(({ topic, partition }) => ({ topic, partition }));
  }
}
