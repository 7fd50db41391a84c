/**
 * Commits a member's watermarks: periodically (one commit at a time, none while the group rebalances), at a
 * rebalance, and once more when the member stops. The final commit waits out a commit still in flight (it may
 * carry older watermarks) and commits the watermarks as they are then, during a rebalance too; when the group
 * has already moved to a new generation, it waits for the member's join and commits there what the member
 * completed for the partitions it still holds ({@link carryOver}). Every wait is bounded by the time given.
 */
import type { Logger } from '../../core/logger.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import { within } from '../lifecycle/within.ts';
import type { Committer } from './committer.ts';
import type { OffsetTracker, TopicPartitionOffset } from './offset-tracker.ts';

/** Commit errors after which this member's generation is gone: retrying the commit cannot succeed. */
const generationLost = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

type CommitResult = 'committed' | 'failed' | 'generation-lost';

export interface OffsetCommitterDeps {
  tracker: OffsetTracker;
  /** The Kafka client's commit (kafkajs `consumer.commitOffsets`). */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Whether the member holds a partition now (only those are committed: kafkajs #1046). */
  holds(topic: string, partition: number): boolean;
  rebalancing(): boolean;
  events: ConsumerEventEmitter;
  logger: Logger;
}

export class OffsetCommitter implements Committer {
  private readonly deps: OffsetCommitterDeps;
  private committing: Promise<CommitResult> | undefined;
  /** Watermarks of a generation a rebalance ended during the stop, for partitions held again in the new one. */
  private carried: TopicPartitionOffset[] = [];
  private joinWaiters: (() => void)[] = [];
  private joins = 0;

  constructor(deps: OffsetCommitterDeps) {
    this.deps = deps;
  }

  /** Watermarks that moved since the last commit, for partitions this member holds. */
  pending(): TopicPartitionOffset[] {
    const pending = this.deps.tracker.uncommitted().filter(({ topic, partition }) => this.deps.holds(topic, partition));
    if (this.carried.length === 0) return pending;
    // A partition the tracker follows again has its own watermark: the carried one is for partitions it does not.
    const tracked = new Set(pending.map(({ topic, partition }) => `${topic}\u0000${partition}`));
    return [...this.carried.filter(({ topic, partition }) => !tracked.has(`${topic}\u0000${partition}`)), ...pending];
  }

  /** The periodic commit (and the one at a rebalance): skipped while one is in flight, and while rebalancing. */
  commit({ duringRebalance = false } = {}): Promise<unknown> {
    if (this.committing) return this.committing;
    if (this.deps.rebalancing() && !duringRebalance) return Promise.resolve();
    const offsets = this.pending();
    return offsets.length === 0 ? Promise.resolve() : this.commitNow(offsets);
  }

  /**
   * Called at a join while the member stops, before the tracker forgets the old generation: what it completed
   * for partitions it holds again stays its to commit. Wakes a final commit waiting for the join.
   */
  carryOver(stillHeld: (topic: string, partition: number) => boolean): void {
    this.carried = this.pending().filter(({ topic, partition }) => stillHeld(topic, partition));
  }

  joined(): void {
    this.joins++;
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /** The last commit, within `budgetMs` (see the file's description). */
  async commitFinal(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    for (let left = budgetMs; left > 0; left = deadline - Date.now()) {
      if (this.committing) {
        await within(this.committing, left);
        continue;
      }
      const offsets = this.pending();
      if (offsets.length === 0) return;
      const joinsBefore = this.joins;
      const result = await within(this.commitNow(offsets), left);
      const outcome = result.settled && 'value' in result ? result.value : undefined;
      if (outcome === 'generation-lost') {
        // A join since the commit was sent: try again in the new generation, with what was carried over.
        if (this.joins > joinsBefore) continue;
        if (!this.deps.rebalancing()) break;
        await within(new Promise<void>((resolve) => this.joinWaiters.push(resolve)), deadline - Date.now());
      } else if (outcome === 'failed') {
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))));
      }
    }
    const uncommitted = this.pending();
    if (uncommitted.length > 0) {
      this.deps.logger.warn({ partitions: uncommitted.length, durationMs: budgetMs }, 'final commit not done before the shutdown deadline: the next owner starts from the last commit');
    }
  }

  private commitNow(offsets: TopicPartitionOffset[]): Promise<CommitResult> {
    const { tracker, events, logger } = this.deps;
    const committing = (async (): Promise<CommitResult> => {
      try {
        await this.deps.commitOffsets(offsets);
        for (const offset of offsets) tracker.markCommitted(offset);
        this.carried = this.carried.filter((carried) => !offsets.includes(carried));
        events.emit('consumer.offsets.committed', { offsets });
        return 'committed';
      } catch (error) {
        // The protocol error (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS), which kafkajs may wrap.
        const errorType = (error as { type?: string }).type ?? (error as { cause?: { type?: string } }).cause?.type ?? (error as Error).name;
        events.emit('consumer.commit.failed', { errorType });
        logger.warn({ err: { type: errorType, message: (error as Error).message } }, 'commit failed; it is retried on the next interval');
        return generationLost.has(errorType) ? 'generation-lost' : 'failed';
      }
    })().finally(() => {
      // Always after the assignment below (a finally callback runs later), even when the call threw at once.
      if (this.committing === committing) this.committing = undefined;
    });
    this.committing = committing;
    return committing;
  }
}
