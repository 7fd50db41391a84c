/**
 * Follows, per partition, the records fetched and which of them completed (handled, or durably forwarded),
 * and gives the offset that may be committed: the contiguous low watermark, i.e. the offset of the first
 * record not completed yet, or one past the last fetched record when all completed. Offsets the broker never
 * handed out (transaction markers, compacted records) are skipped over, since only fetched records are
 * tracked. Pure: no I/O.
 */
import { FifoQueue } from '../ordering/fifo-queue.ts';

interface Tracked {
  offset: bigint;
  done: boolean;
}

interface PartitionOffsets {
  topic: string;
  partition: number;
  pending: FifoQueue<Tracked>;
  byOffset: Map<string, Tracked>;
  /** One past the highest offset tracked. */
  next: bigint | undefined;
  committed: bigint | undefined;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionOffsets>();

  /** A fetched record. Offsets of one partition must arrive in increasing order. */
  track(topic: string, partition: number, offset: string): void {
    const state = this.stateOf(topic, partition, true)!;
    const value = BigInt(offset);
    if (state.next !== undefined && value < state.next) {
      throw new Error(`offset ${offset} of ${topic}/${partition} arrived after ${state.next - 1n}`);
    }
    const tracked = { offset: value, done: false };
    state.pending.push(tracked);
    state.byOffset.set(offset, tracked);
    state.next = value + 1n;
  }

  /** True if the record was tracked (false after its partition was dropped: a stale completion). */
  complete(topic: string, partition: number, offset: string): boolean {
    const state = this.stateOf(topic, partition, false);
    const tracked = state?.byOffset.get(offset);
    if (!state || !tracked) return false;
    tracked.done = true;
    state.byOffset.delete(offset);
    while (state.pending.peek()?.done) state.pending.shift();
    return true;
  }

  /** The offset to commit for a partition: the first not completed, else one past the last tracked. */
  watermark(topic: string, partition: number): string | undefined {
    const state = this.stateOf(topic, partition, false);
    if (!state || state.next === undefined) return undefined;
    return String(state.pending.peek()?.offset ?? state.next);
  }

  /** Watermarks that moved since they were last marked committed. */
  uncommitted(): TopicPartitionOffset[] {
    const result: TopicPartitionOffset[] = [];
    for (const state of this.partitions.values()) {
      const watermark = this.watermark(state.topic, state.partition);
      if (watermark !== undefined && (state.committed === undefined || BigInt(watermark) > state.committed)) {
        result.push({ topic: state.topic, partition: state.partition, offset: watermark });
      }
    }
    return result;
  }

  markCommitted({ topic, partition, offset }: TopicPartitionOffset): void {
    const state = this.stateOf(topic, partition, false);
    if (state) state.committed = BigInt(offset);
  }

  /** Records tracked and not completed, per partition. */
  pendingCount(topic: string, partition: number): number {
    return this.stateOf(topic, partition, false)?.byOffset.size ?? 0;
  }

  /** Forgets a partition (revoked), or all of them: later completions for it are ignored. */
  drop(filter?: { topic: string; partition: number }): void {
    if (!filter) this.partitions.clear();
    else this.partitions.delete(partitionId(filter.topic, filter.partition));
  }

  assignedPartitions(): { topic: string; partition: number }[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  private stateOf(topic: string, partition: number, create: boolean): PartitionOffsets | undefined {
    const id = partitionId(topic, partition);
    let state = this.partitions.get(id);
    if (!state && create) {
      state = { topic, partition, pending: new FifoQueue(), byOffset: new Map(), next: undefined, committed: undefined };
      this.partitions.set(id, state);
    }
    return state;
  }
}

function partitionId(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
