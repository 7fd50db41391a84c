/**
 * Counts the records a consumer forwards to a retry tier from the events it emits today, until it emits a
 * `consumer.record.retried` event of its own (see docs/observability.md, "Events the metrics need").
 *
 * A record whose last attempt in place failed (`consumer.record.failed` with `willRetry: false`) leaves for
 * a retry tier or for the DLT. The DLT is announced (`consumer.record.dead-lettered`); a tier is not. So the
 * record is held as pending and resolved when a commit passes its offset: it completed, and, not having
 * been dead-lettered, it went to the next tier. A rebalance drops what is pending (those records come again).
 * A failure of a record from a retry tier is announced under the record's original topic and offset; it is
 * told apart by being below the source partition's committed watermark (a source record in process never
 * is), which holds once the source commit that followed the forward is seen, one commit interval later.
 * Not counted: successors of a parked key sent behind their head (no event at all marks them).
 */
import { nextTierOf, type TopicTier } from './topic-tier.ts';

interface Pending {
  offset: bigint;
  next: `${number}`;
}

export class TierForwardTracker {
  private readonly pending = new Map<string, Pending[]>();
  private readonly watermarks = new Map<string, bigint>();

  /** Whether `offset` is below the last commit seen for its partition (so not a record of this partition in process). */
  isCommitted(topic: string, partition: number, offset: string): boolean {
    const watermark = this.watermarks.get(partitionId(topic, partition));
    return watermark !== undefined && BigInt(offset) < watermark;
  }

  /** A record whose attempts in place are over; it goes to a tier or to the DLT. */
  failedFinally(topic: string, partition: number, offset: string, tier: TopicTier['tier']): void {
    const id = partitionId(topic, partition);
    const list = this.pending.get(id) ?? [];
    list.push({ offset: BigInt(offset), next: nextTierOf(tier) });
    this.pending.set(id, list);
  }

  deadLettered(topic: string, partition: number, offset: string): void {
    const id = partitionId(topic, partition);
    const list = this.pending.get(id);
    if (!list) return;
    const remaining = list.filter((entry) => entry.offset !== BigInt(offset));
    if (remaining.length > 0) this.pending.set(id, remaining);
    else this.pending.delete(id);
  }

  /** A commit at `offset` (the next offset to read): what is pending below it went to its next tier. */
  committed(topic: string, partition: number, offset: string): `${number}`[] {
    const id = partitionId(topic, partition);
    const committedOffset = BigInt(offset);
    this.watermarks.set(id, committedOffset);
    const list = this.pending.get(id);
    if (!list) return [];
    const forwarded = list.filter((entry) => entry.offset < committedOffset);
    const remaining = list.filter((entry) => entry.offset >= committedOffset);
    if (remaining.length > 0) this.pending.set(id, remaining);
    else this.pending.delete(id);
    return forwarded.map((entry) => entry.next);
  }

  reset(): void {
    this.pending.clear();
    this.watermarks.clear();
  }

  get size(): number {
    let size = 0;
    for (const list of this.pending.values()) size += list.length;
    return size;
  }
}

function partitionId(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
