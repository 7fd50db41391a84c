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
  partition: number;
  offset: string;
  key: Buffer | null;
}

/**
 * The lane a record runs in: every record is routed through this one function (parallel-consumer
 * `ShardKey.of`). A key lives on one partition, but the partition is part of the lane so a revoked partition's
 * lanes are told apart from the same key arriving on another topic.
 */
export function shardKeyOf(record: LaneRecord, ordering: Ordering): string {
  switch (ordering) {
    case 'key':
      return `${record.topic}\u0000${record.partition}\u0000k:${record.key === null ? '' : record.key.toString('base64')}`;
    case 'partition':
      return `${record.topic}\u0000${record.partition}`;
    case 'none':
      return `${record.topic}\u0000${record.partition}\u0000o:${record.offset}`;
  }
}
