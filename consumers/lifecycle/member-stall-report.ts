/**
 * The member's own stall report, wired: its watermarks (offset tracker) watched by a {@link PartitionStallWatch},
 * explained from its scheduler, held retries, pauses and the troubles heard on its events, and told as a
 * warning line and the `consumer.partition.stalled` / `.recovered` events.
 */
import type { Logger } from '../../core/logger.ts';
import { partitionIdOf, type ConsumedRecord } from '../consumed-record.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import type { OffsetTracker } from '../offsets/offset-tracker.ts';
import type { KeyScheduler } from '../ordering/key-scheduler.ts';
import { explainWait } from './explain-wait.ts';
import { PartitionStallWatch, type WatchedPartition } from './partition-stall-watch.ts';
import { RecordTroubles } from './record-troubles.ts';

/** The partitions a tracker follows, with their watermarks and how many records wait: what the watch reads. */
export function watchedPartitionsOf(tracker: OffsetTracker): WatchedPartition[] {
  return tracker.assignedPartitions().map(({ topic, partition }) => ({
    id: partitionIdOf(topic, partition),
    topic,
    partition,
    watermark: tracker.watermark(topic, partition),
    waiting: tracker.pendingCount(topic, partition),
  }));
}

export interface StallReportedMember {
  stuckPartitionMs: number;
  concurrency: number;
  tracker: OffsetTracker;
  scheduler: KeyScheduler<ConsumedRecord>;
  events: ConsumerEventEmitter;
  logger: Logger;
  rebalancing(): boolean;
  heldRetries(partitionId: string): number;
  paused(partitionId: string): boolean;
}

export class MemberStallReport {
  private readonly watch: PartitionStallWatch;
  private readonly troubles: RecordTroubles;

  constructor(member: StallReportedMember) {
    const { tracker, events, logger } = member;
    this.troubles = new RecordTroubles(events);
    this.watch = new PartitionStallWatch({
      stuckPartitionMs: member.stuckPartitionMs,
      partitions: () => watchedPartitionsOf(tracker),
      explain: (topic, partition, offset) =>
        explainWait(
          {
            scheduler: member.scheduler,
            concurrency: member.concurrency,
            rebalancing: member.rebalancing(),
            heldRetries: (id) => member.heldRetries(id),
            paused: (id) => member.paused(id),
            trouble: (id, at) => this.troubles.of(id, at),
          },
          topic,
          partition,
          offset,
        ),
      onStalled: (stall) => {
        const { topic, partition, offset, waiting, stalledForMs, reason } = stall;
        logger.warn({ topic, partition, offset, waiting, durationMs: stalledForMs, reason, status: 'stalled' }, 'partition stalled: its watermark has not moved while records wait');
        events.emit('consumer.partition.stalled', stall);
      },
      onMoving: ({ topic, partition, offset }) => {
        logger.info({ topic, partition, offset, status: 'moving' }, 'partition moving again');
        events.emit('consumer.partition.recovered', { topic, partition });
      },
    });
  }

  /** Partitions reported stalled and not moving since. */
  get stalledCount(): number {
    return this.watch.stalledCount;
  }

  /** How often to {@link check}: a quarter of the threshold, between 100 ms and 5 s. */
  get checkIntervalMs(): number {
    return Math.min(5_000, Math.max(100, this.watch.stuckPartitionMs / 4));
  }

  check(): void {
    this.watch.check();
  }

  /** A rebalance: watermarks, stall clocks and troubles start over. */
  reset(): void {
    this.troubles.clear();
    this.watch.reset();
  }
}
