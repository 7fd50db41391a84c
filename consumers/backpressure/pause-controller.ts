/**
 * The one place that decides which assigned partitions are paused, for every reason at once: backpressure
 * (partition or member above its high-water mark), event-loop delay, a retry tier whose head is not due, a
 * higher-priority lane with a backlog, a transactional shard that is not ready, or shutdown. It applies the difference to the Kafka client, so the
 * reasons never undo each other. After a rebalance it re-applies the state to partitions that stay and clears
 * it for those revoked (kafkajs keeps a paused flag on a partition after it is revoked).
 */
import type { BackpressureController } from './backpressure-controller.ts';
import type { DueTimeGate } from '../retries/due-time-gate.ts';

export interface AssignedPartition {
  id: string;
  topic: string;
  partition: number;
  /** The source topic (for a retry tier, the topic it retries). */
  sourceTopic: string;
}

export interface PauseControllerDeps {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  backpressure: BackpressureController;
  gate: DueTimeGate;
  /** Source topics ranked by priority (lower rank first) and the backlog above which lower ranks pause. */
  ranks: ReadonlyMap<string, number>;
  priorityBacklogRecords: number;
  /** False while the partition may not be handled yet (`transactional`: its shard's producer starts). */
  ready?(partitionId: string): boolean;
  onChange?(partition: AssignedPartition, paused: boolean): void;
}

export class PauseController {
  private readonly deps: PauseControllerDeps;
  private assigned = new Map<string, AssignedPartition>();
  private readonly applied = new Set<string>();
  eventLoopOverloaded = false;
  stopping = false;

  constructor(deps: PauseControllerDeps) {
    this.deps = deps;
  }

  get pausedCount(): number {
    return this.applied.size;
  }

  isPaused(id: string): boolean {
    return this.applied.has(id);
  }

  /** Partitions paused now, as [topic, partition] pairs. */
  paused(): AssignedPartition[] {
    return [...this.applied].map((id) => this.assigned.get(id)).filter((partition): partition is AssignedPartition => partition !== undefined);
  }

  setAssignment(partitions: AssignedPartition[]): void {
    const next = new Map(partitions.map((partition) => [partition.id, partition]));
    for (const id of [...this.applied]) {
      if (next.has(id)) continue;
      const revoked = this.assigned.get(id);
      this.applied.delete(id);
      if (revoked) this.deps.resume(revoked.topic, revoked.partition);
    }
    this.assigned = next;
    this.reconcile();
  }

  /** Whether an assigned partition should be paused now (false for one not assigned). */
  shouldPauseId(id: string): boolean {
    const partition = this.assigned.get(id);
    return partition !== undefined && this.shouldPause(partition);
  }

  shouldPause(partition: AssignedPartition): boolean {
    const { backpressure, gate } = this.deps;
    return (
      this.stopping ||
      this.eventLoopOverloaded ||
      backpressure.memberPressured ||
      backpressure.isPartitionPressured(partition.id) ||
      gate.isHeld(partition.id) ||
      this.deps.ready?.(partition.id) === false ||
      this.laneYields(partition.sourceTopic)
    );
  }

  /** Applies the decision to every assigned partition; cheap enough to call after any change. */
  reconcile(): void {
    for (const partition of this.assigned.values()) {
      const pause = this.shouldPause(partition);
      if (pause === this.applied.has(partition.id)) continue;
      if (pause) {
        this.applied.add(partition.id);
        this.deps.pause(partition.topic, partition.partition);
      } else {
        this.applied.delete(partition.id);
        this.deps.resume(partition.topic, partition.partition);
      }
      this.deps.onChange?.(partition, pause);
    }
  }

  /** A lower-priority topic yields while a higher-priority one holds a backlog above the threshold. */
  private laneYields(topic: string): boolean {
    const { ranks, backpressure, priorityBacklogRecords } = this.deps;
    const rank = ranks.get(topic);
    if (rank === undefined) return false;
    for (const [other, otherRank] of ranks) {
      if (otherRank < rank && backpressure.recordsOfTopic(other) > priorityBacklogRecords) return true;
    }
    return false;
  }
}
