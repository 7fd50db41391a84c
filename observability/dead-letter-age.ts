/**
 * The timestamp of the oldest record in a topic, from the admin API alone (no consumer group, no fetch).
 *
 * `fetchTopicOffsetsByTimestamp(topic, t)` gives, per partition, the first offset whose timestamp is at least
 * `t`. That offset is still the partition's log start offset exactly when the first record's timestamp is at
 * least `t`. So the oldest first-record timestamp over the partitions is the largest `t` for which every
 * non-empty partition still answers its log start offset: a binary search, exact to `precisionMs`, about 30
 * admin calls. The answer is cached while the log start offsets and the set of non-empty partitions stay the
 * same and two lookups confirm it (the oldest record is still at or after it, and not after it plus the
 * precision), so a steady DLT costs three admin calls per poll, and a DLT deleted and recreated between two
 * polls is measured afresh.
 */
import type { Admin } from '../core/kafka-client.ts';

export interface PartitionBounds {
  partition: number;
  /** Log start offset. */
  low: string;
  /** High watermark. */
  high: string;
}

export class OldestRecordFinder {
  private readonly admin: Admin;
  private readonly precisionMs: number;
  private readonly cache = new Map<string, { signature: string; timestampMs: number; upperMs: number }>();

  constructor(admin: Admin, { precisionMs = 1_000 } = {}) {
    this.admin = admin;
    this.precisionMs = precisionMs;
  }

  /** Epoch ms of the oldest first record among the partitions, or undefined when every partition is empty. */
  async oldestTimestampMs(topic: string, bounds: readonly PartitionBounds[], now = Date.now()): Promise<number | undefined> {
    const nonEmpty = bounds.filter(({ low, high }) => BigInt(high) > BigInt(low));
    if (nonEmpty.length === 0) {
      this.cache.delete(topic);
      return undefined;
    }
    const signature = nonEmpty.map(({ partition, low }) => `${partition}@${low}`).join(',');
    const lowOf = new Map(nonEmpty.map(({ partition, low }) => [partition, low]));
    const allAtStart = async (timestampMs: number) => {
      const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
      return offsets.every(({ partition, offset }) => !lowOf.has(partition) || offset === lowOf.get(partition));
    };
    const cached = this.cache.get(topic);
    if (cached?.signature === signature && (await allAtStart(cached.timestampMs)) && !(await allAtStart(cached.upperMs))) return cached.timestampMs;

    // Invariant: allAtStart(lower) holds, allAtStart(upper) does not.
    let lower = 0;
    let upper = now + 60 * 60 * 1_000;
    if (await allAtStart(upper)) return upper;
    while (upper - lower > this.precisionMs) {
      const middle = lower + Math.floor((upper - lower) / 2);
      if (await allAtStart(middle)) lower = middle;
      else upper = middle;
    }
    this.cache.set(topic, { signature, timestampMs: lower, upperMs: upper });
    return lower;
  }
}
