/**
 * Makes a stalled partition visible from inside the member: a partition whose watermark (the first record
 * not completed) has not moved for `stuckPartitionMs` while records wait is reported once, with the offset
 * it waits at and why (see {@link explainWait}), and reported again as moving when it does. Checked on a
 * timer, never per record.
 */
import { StuckPartitionTracker } from '../offsets/stuck-partition-tracker.ts';

export interface WatchedPartition {
  id: string;
  topic: string;
  partition: number;
  /** The first record not completed, or one past the last fetched. */
  watermark: string | undefined;
  /** Records fetched and not completed. */
  waiting: number;
}

export interface PartitionStall {
  topic: string;
  partition: number;
  offset: string;
  /** Records fetched and not completed in the partition. */
  waiting: number;
  stalledForMs: number;
  reason: string;
}

export interface PartitionStallWatchOptions {
  stuckPartitionMs: number;
  partitions(): WatchedPartition[];
  /** Why the record at `offset` has not completed. */
  explain(topic: string, partition: number, offset: string): string;
  onStalled(stall: PartitionStall): void;
  onMoving(partition: { topic: string; partition: number; offset: string | undefined }): void;
}

export class PartitionStallWatch {
  private readonly options: PartitionStallWatchOptions;
  private tracker = new StuckPartitionTracker();
  private readonly stalled = new Map<string, { topic: string; partition: number }>();

  constructor(options: PartitionStallWatchOptions) {
    this.options = options;
  }

  get stuckPartitionMs(): number {
    return this.options.stuckPartitionMs;
  }

  /** Partitions reported stalled and not moving since. */
  get stalledCount(): number {
    return this.stalled.size;
  }

  check(nowMs = Date.now()): void {
    const partitions = this.options.partitions();
    const verdicts = this.tracker.observe(
      partitions.map(({ id, watermark, waiting }) => ({ id, committedOffset: watermark ?? null, lag: waiting, stuckAfterMs: this.options.stuckPartitionMs })),
      nowMs,
    );
    for (const { id, topic, partition, watermark, waiting } of partitions) {
      const verdict = verdicts.get(id);
      if (verdict?.stuck && watermark !== undefined) {
        if (this.stalled.has(id)) continue;
        this.stalled.set(id, { topic, partition });
        this.options.onStalled({ topic, partition, offset: watermark, waiting, stalledForMs: verdict.stalledForMs, reason: this.options.explain(topic, partition, watermark) });
      } else if (this.stalled.delete(id)) {
        this.options.onMoving({ topic, partition, offset: watermark });
      }
    }
    // Partitions gone (revoked, or no longer tracked): they are not stalled here any more.
    const present = new Set(partitions.map(({ id }) => id));
    for (const [id, { topic, partition }] of this.stalled) {
      if (present.has(id)) continue;
      this.stalled.delete(id);
      this.options.onMoving({ topic, partition, offset: undefined });
    }
  }

  /** A rebalance: watermarks start over, and so do the stall clocks. */
  reset(): void {
    this.tracker = new StuckPartitionTracker();
    this.check();
  }
}
