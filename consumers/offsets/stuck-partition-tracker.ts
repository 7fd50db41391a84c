/**
 * Decides which partitions are stuck: they have lag, and their committed offset has not moved for longer
 * than their threshold. Pure logic over snapshots; the clock is given. The lag monitor feeds it the group's
 * committed offsets from outside; a consumer feeds it its own watermarks and the records waiting below them.
 */
export interface PartitionProgress {
  id: string;
  committedOffset: string | null;
  lag: number;
  /** How long this partition may hold lag without a commit, in ms. */
  stuckAfterMs: number;
}

export class StuckPartitionTracker {
  private readonly since = new Map<string, { committedOffset: string | null; sinceMs: number }>();

  /** Records one snapshot; returns, per partition id with lag, for how long (ms) its commit has not moved. */
  observe(partitions: readonly PartitionProgress[], nowMs: number): Map<string, { stalledForMs: number; stuck: boolean }> {
    const result = new Map<string, { stalledForMs: number; stuck: boolean }>();
    const seen = new Set<string>();
    for (const { id, committedOffset, lag, stuckAfterMs } of partitions) {
      seen.add(id);
      if (lag <= 0) {
        this.since.delete(id);
        continue;
      }
      const previous = this.since.get(id);
      if (!previous || previous.committedOffset !== committedOffset) {
        this.since.set(id, { committedOffset, sinceMs: nowMs });
        result.set(id, { stalledForMs: 0, stuck: false });
        continue;
      }
      const stalledForMs = nowMs - previous.sinceMs;
      result.set(id, { stalledForMs, stuck: stalledForMs >= stuckAfterMs });
    }
    for (const id of this.since.keys()) if (!seen.has(id)) this.since.delete(id);
    return result;
  }
}
