/**
 * How records are ordered, and what it costs.
 * - `'key'` (default): one lane per key within a partition; records of one key run one at a time, in offset
 *   order; different keys run concurrently. Costs a lane per distinct key in flight.
 * - `'partition'`: one record at a time per partition; concurrency is capped by the partition count.
 * - `'none'`: no order at all; every record may run at once, up to `concurrency`.
 */
export type Ordering = 'key' | 'partition' | 'none';

export const orderings = ['key', 'partition', 'none'] as const satisfies readonly Ordering[];

/** What a lane needs of a record. */
export interface LaneRecord {
  topic: string;
  /** The source topic of a record on a retry tier: a key's lane spans its source and its tiers. */
  sourceTopic?: string;
  partition: number;
  /** `topic` and `partition` as one string, when the record carries it (made once per fetched batch). */
  partitionId?: string;
  offset: string;
  key: Buffer | null;
  /**
   * Held in memory until its due time and released now (a delayed event, or a record queued behind one of its
   * key): its lane ranks with its source topic's retry tiers, not behind the source's queued lanes.
   */
  released?: boolean;
  /** The tier it was read from: 0 (or absent) on the source, a retry tier from 1, a delay level from 1001. */
  tier?: number;
  /** On a retry tier or a delay level: the source offset its event was first read at, when its headers say so. */
  retry?: { originalOffset: string | undefined };
  /** A delayed event or a cancel record (its delay headers, read at intake). */
  delay?: unknown;
  /** Set by the {@link KeyScheduler} while the record is in flight: its lane, found again on completion. */
  schedulerLane?: unknown;
}

/**
 * The lane a record runs in: every record is routed through this one function (parallel-consumer
 * `ShardKey.of`). A key keeps its partition number in its source topic and on its retry tiers, and the
 * co-partitioned assigner gives all of them to one member, so the lane is (source topic, partition, key).
 */
export function shardKeyOf(record: LaneRecord, ordering: Ordering): string {
  const topic = record.sourceTopic ?? record.topic;
  switch (ordering) {
    case 'key':
      // latin1 maps each byte to one character: a distinct key for distinct bytes, and cheaper than base64.
      return `${topic}\u0000${record.partition}\u0000k:${record.key === null ? '' : record.key.toString('latin1')}`;
    case 'partition':
      return `${topic}\u0000${record.partition}`;
    case 'none':
      return `${record.topic}\u0000${record.partition}\u0000o:${record.offset}`;
  }
}
