/**
 * Follows, per partition, the records fetched and which of them completed (handled, or durably forwarded),
 * and gives the offset that may be committed: the contiguous low watermark, i.e. the offset of the first
 * record not completed yet, or one past the last fetched record when all completed. Offsets the broker never
 * handed out (transaction markers, compacted records) are skipped over, since only fetched records are
 * tracked. Pure: no I/O.
 *
 * Cheap per record: a partition keeps the offsets it waits on in two parallel arrays (the offset as a number,
 * and whether it completed), in increasing order, consumed from the front; a completion finds its offset by a
 * binary search. No object, Map entry or BigInt per record. Offsets are numbers while they are safe integers
 * (below 2^53); a partition that meets a larger one counts from a BigInt base from then on, exactly.
 */
import { partitionIdOf } from '../consumed-record.ts';

/** Compact the arrays when this many completed entries lead them and they are most of the arrays. */
const compactAfter = 1_024;

class PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  /** Offsets as numbers: absolute, or relative to `base` once an offset of 2^53 or more was seen. */
  private base: bigint | undefined;
  private offsets: number[] = [];
  private done: boolean[] = [];
  private head = 0;
  /** Tracked and not completed. */
  open = 0;
  /** One past the highest offset tracked (as stored: relative to `base` when set). */
  private next: number | undefined;
  committed: bigint | undefined;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  track(offset: string): void {
    let value = this.numberOf(offset);
    if (value === undefined) {
      this.rebase(BigInt(offset));
      value = this.numberOf(offset)!;
    }
    if (this.next !== undefined && value < this.next) {
      throw new Error(`offset ${offset} of ${this.topic}/${this.partition} arrived after ${this.toOffset(this.next - 1)}`);
    }
    this.offsets.push(value);
    this.done.push(false);
    this.open++;
    this.next = value + 1;
  }

  complete(offset: string): boolean {
    const value = this.numberOf(offset);
    if (value === undefined) return false;
    const index = this.indexOf(value);
    if (index < 0 || this.done[index]) return false;
    this.done[index] = true;
    this.open--;
    if (index === this.head) this.advance();
    return true;
  }

  watermark(): string | undefined {
    if (this.next === undefined) return undefined;
    return this.toOffset(this.head < this.offsets.length ? this.offsets[this.head]! : this.next);
  }

  /** The stored number of an offset, or undefined if it cannot be one (too large without a base). */
  private numberOf(offset: string): number | undefined {
    if (this.base === undefined) {
      const value = Number(offset);
      return Number.isSafeInteger(value) ? value : undefined;
    }
    const value = Number(BigInt(offset) - this.base);
    if (!Number.isSafeInteger(value)) throw new Error(`offset ${offset} of ${this.topic}/${this.partition} is too far from the offsets tracked`);
    return value;
  }

  /** From absolute numbers to numbers relative to a BigInt base (once, at the first offset of 2^53 or more). */
  private rebase(first: bigint): void {
    const base = first;
    const shift = (value: number) => {
      const relative = Number(BigInt(value) - base);
      if (!Number.isSafeInteger(relative)) throw new Error(`offset ${first} of ${this.topic}/${this.partition} is too far from the offsets tracked`);
      return relative;
    };
    this.offsets = this.offsets.slice(this.head).map(shift);
    this.done = this.done.slice(this.head);
    this.head = 0;
    if (this.next !== undefined) this.next = shift(this.next);
    this.base = base;
  }

  private toOffset(value: number): string {
    return this.base === undefined ? String(value) : String(this.base + BigInt(value));
  }

  /** The index of a tracked offset in the arrays, or -1. Most completions are at the front. */
  private indexOf(value: number): number {
    const { offsets } = this;
    let low = this.head;
    let high = offsets.length - 1;
    if (low > high) return -1;
    if (offsets[low] === value) return low;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = offsets[middle]!;
      if (found === value) return middle;
      if (found < value) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** Steps the head over completed entries; empties or compacts the arrays. */
  private advance(): void {
    const { done } = this;
    let head = this.head;
    while (head < done.length && done[head]) head++;
    if (head === done.length) {
      this.offsets.length = 0;
      this.done.length = 0;
      this.head = 0;
      return;
    }
    if (head > compactAfter && head * 2 > done.length) {
      this.offsets = this.offsets.slice(head);
      this.done = this.done.slice(head);
      head = 0;
    }
    this.head = head;
  }
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** `id` arguments are {@link partitionIdOf}(topic, partition), when the caller has it already. */
export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionOffsets>();

  /** A fetched record. Offsets of one partition must arrive in increasing order. */
  track(topic: string, partition: number, offset: string, id = partitionIdOf(topic, partition)): void {
    let state = this.partitions.get(id);
    if (!state) {
      state = new PartitionOffsets(topic, partition);
      this.partitions.set(id, state);
    }
    state.track(offset);
  }

  /** True if the record was tracked (false after its partition was dropped: a stale completion). */
  complete(topic: string, partition: number, offset: string, id = partitionIdOf(topic, partition)): boolean {
    return this.partitions.get(id)?.complete(offset) ?? false;
  }

  /** The offset to commit for a partition: the first not completed, else one past the last tracked. */
  watermark(topic: string, partition: number): string | undefined {
    return this.partitions.get(partitionIdOf(topic, partition))?.watermark();
  }

  /** Watermarks that moved since they were last marked committed. */
  uncommitted(): TopicPartitionOffset[] {
    const result: TopicPartitionOffset[] = [];
    for (const state of this.partitions.values()) {
      const watermark = state.watermark();
      if (watermark !== undefined && (state.committed === undefined || BigInt(watermark) > state.committed)) {
        result.push({ topic: state.topic, partition: state.partition, offset: watermark });
      }
    }
    return result;
  }

  markCommitted({ topic, partition, offset }: TopicPartitionOffset): void {
    const state = this.partitions.get(partitionIdOf(topic, partition));
    if (state) state.committed = BigInt(offset);
  }

  /** Records tracked and not completed, per partition. */
  pendingCount(topic: string, partition: number): number {
    return this.partitions.get(partitionIdOf(topic, partition))?.open ?? 0;
  }

  /** Forgets a partition (revoked), or all of them: later completions for it are ignored. */
  drop(filter?: { topic: string; partition: number }): void {
    if (!filter) this.partitions.clear();
    else this.partitions.delete(partitionIdOf(filter.topic, filter.partition));
  }

  assignedPartitions(): { topic: string; partition: number }[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }
}
