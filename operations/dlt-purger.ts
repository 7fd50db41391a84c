/**
 * Deletes replayed records from a dead-letter topic. Kafka deletes only a prefix of a partition (records
 * before an offset), so per partition the purge deletes the longest run of records, from the first one still
 * in the log, that were all replayed; the first record not replayed and everything after it stay.
 */
import type { Admin } from '../core/kafka-client.ts';
import type { DltRecord } from './dlt-record.ts';
import type { PartitionWatermarks } from './dlt-reader.ts';
import type { DltReplayStore } from './dlt-replay-store.ts';

export interface PartitionPurgePlan {
  partition: number;
  /** Offsets before this one are deleted (equal to the low watermark: nothing is). */
  deleteBefore: string;
  /** The replayed records deleted. */
  purged: DltRecord[];
  /** Records that stay. */
  kept: number;
  /** The first record not replayed, which keeps itself and all after it. */
  blockedBy: DltRecord | undefined;
}

/**
 * `records`: every record of the topic up to `watermarks` (sorted by partition and offset);
 * `isReplayed`: whether the replay store counts a replay of the record.
 */
export function planDltPurge(records: readonly DltRecord[], watermarks: readonly PartitionWatermarks[], isReplayed: (record: DltRecord) => boolean): PartitionPurgePlan[] {
  return watermarks.map(({ partition, low, high }) => {
    const inPartition = records.filter((record) => record.partition === partition);
    const blockedAt = inPartition.findIndex((record) => !isReplayed(record));
    if (blockedAt === -1) return { partition, deleteBefore: inPartition.length > 0 ? high : low, purged: inPartition, kept: 0, blockedBy: undefined };
    const blockedBy = inPartition[blockedAt]!;
    return { partition, deleteBefore: blockedBy.offset, purged: inPartition.slice(0, blockedAt), kept: inPartition.length - blockedAt, blockedBy };
  });
}

export class DltPurger {
  private readonly admin: Admin;
  private readonly replayStore: DltReplayStore;

  constructor({ admin, replayStore }: { admin: Admin; replayStore: DltReplayStore }) {
    this.admin = admin;
    this.replayStore = replayStore;
  }

  /** Deletes each plan's prefix, then forgets the purged records in the replay store. Returns records deleted. */
  async purge(topic: string, plans: readonly PartitionPurgePlan[]): Promise<number> {
    const work = plans.filter((plan) => plan.purged.length > 0);
    if (work.length === 0) return 0;
    // kafkajs looks the partition leaders up in its metadata cache only: load the topic into it first.
    await this.admin.fetchTopicMetadata({ topics: [topic] });
    await this.admin.deleteTopicRecords({ topic, partitions: work.map((plan) => ({ partition: plan.partition, offset: plan.deleteBefore })) });
    for (const plan of work) await this.replayStore.forget(topic, plan.partition, plan.purged);
    return work.reduce((total, plan) => total + plan.purged.length, 0);
  }

  /**
   * Forgets replay entries no record read answers to (deleted before, or of a deleted and recreated topic), so
   * the replay store stays as large as the topic. `records` and `watermarks` as read, as for {@link planDltPurge}.
   */
  async forgetStale(topic: string, records: readonly DltRecord[], watermarks: readonly PartitionWatermarks[]): Promise<number> {
    let forgotten = 0;
    for (const { partition, high } of watermarks) {
      forgotten += await this.replayStore.prune(topic, partition, records.filter((record) => record.partition === partition), high);
    }
    return forgotten;
  }
}
