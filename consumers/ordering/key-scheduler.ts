/**
 * Decides which record runs next: one lane per shard key (see {@link shardKeyOf}), at most one record in flight
 * per lane, at most `concurrency` in flight overall. Lanes with work wait their turn in one FIFO, so a key
 * with a long backlog cannot starve the others. A lane waits in the group of the topic of its head record:
 * a retry tier's group ranks just above its source topic (a due retry does not wait behind a source backlog)
 * and below any topic of a higher priority, and shares its source topic's concurrency limit. Pure: no I/O,
 * no timers.
 */
import { FifoQueue } from './fifo-queue.ts';
import { shardKeyOf, type LaneRecord, type Ordering } from './ordering.ts';

interface Lane<R> {
  id: string;
  queue: FifoQueue<R>;
  running: boolean;
  ready: boolean;
  group: TopicGroup<R>;
}

/** The lanes of one topic: its priority rank and its source topic's concurrency limit. */
interface TopicGroup<R> {
  topic: string;
  rank: number;
  /** Shared by a source topic and its retry tiers. */
  budget: { limit: number; running: number };
  ready: FifoQueue<Lane<R>>;
}

/** How far above its source topic a retry tier ranks: above it, below the next higher priority. */
const tierRankLift = 0.5;

/** A source topic's share of the handler slots (priority lanes). Lower rank runs first. */
export interface TopicShare {
  topic: string;
  rank: number;
  concurrency: number;
}

export interface KeySchedulerOptions {
  ordering: Ordering;
  /** Handler calls in flight at once, across all lanes and partitions. */
  concurrency: number;
  /** Priority and concurrency per source topic; topics not listed share rank 1 with no limit of their own. */
  topicShares?: readonly TopicShare[];
}

/** Where a record waits in the scheduler (see {@link KeyScheduler.locate}). */
export type RecordLocation<R> =
  | { state: 'in-flight'; record: R }
  | {
      state: 'queued';
      record: R;
      /** Records of its lane queued before it. */
      ahead: number;
      /** The lane's record in flight, if any. */
      laneRunning: R | undefined;
      /** Every handler slot of its topic (or of the member) is taken. */
      slotsFull: boolean;
    };

/** Idle lanes kept for reuse, at most: a lane and its queue are not allocated again for every record. */
const maxSpareLanes = 1_024;

export class KeyScheduler<R extends LaneRecord> {
  private readonly lanes = new Map<string, Lane<R>>();
  /** The lane of each record in flight: {@link complete} finds it without computing the shard key again. */
  private readonly inFlightLanes = new Map<R, Lane<R>>();
  private readonly spareLanes: Lane<R>[] = [];
  private readonly groups = new Map<string, TopicGroup<R>>();
  /** Groups by rank, highest priority (lowest rank) first. */
  private ranks: TopicGroup<R>[][] = [];
  private readonly queuedByPartition = new Map<string, number>();
  private running = 0;
  private queuedTotal = 0;
  private readonly ordering: Ordering;
  private readonly concurrency: number;

  constructor({ ordering, concurrency, topicShares = [] }: KeySchedulerOptions) {
    this.ordering = ordering;
    this.concurrency = concurrency;
    for (const share of topicShares) this.groupOf(share.topic, share);
  }

  private groupOf(topic: string, share?: TopicShare, sourceTopic = topic): TopicGroup<R> {
    let group = this.groups.get(topic);
    if (!group) {
      if (sourceTopic !== topic) {
        const source = this.groupOf(sourceTopic);
        group = { topic, rank: source.rank - tierRankLift, budget: source.budget, ready: new FifoQueue() };
      } else group = { topic, rank: share?.rank ?? 1, budget: { limit: share?.concurrency ?? Infinity, running: 0 }, ready: new FifoQueue() };
      this.groups.set(topic, group);
      const ranks = [...new Set([...this.groups.values()].map((candidate) => candidate.rank))].sort((a, b) => a - b);
      this.ranks = ranks.map((rank) => [...this.groups.values()].filter((candidate) => candidate.rank === rank));
    }
    return group;
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.queuedTotal;
  }

  queuedFor(topic: string, partition: number): number {
    return this.queuedByPartition.get(partitionId(topic, partition)) ?? 0;
  }

  enqueue(record: R): void {
    const id = shardKeyOf(record, this.ordering);
    let lane = this.lanes.get(id);
    if (!lane) {
      const group = this.groupOfRecord(record);
      lane = this.spareLanes.pop();
      if (lane) {
        lane.id = id;
        lane.group = group;
      } else {
        lane = { id, queue: new FifoQueue<R>(), running: false, ready: false, group };
      }
      this.lanes.set(id, lane);
    }
    lane.queue.push(record);
    this.countQueued(record, 1);
    this.markReady(lane);
  }

  /** The records that may start now, each marked in flight until {@link complete}. */
  takeRunnable(): R[] {
    const started: R[] = [];
    // Strict priority between ranks; round-robin between the topics of one rank.
    for (const groups of this.ranks) {
      let progressed = true;
      while (progressed && this.running < this.concurrency) {
        progressed = false;
        for (const group of groups) {
          if (this.running >= this.concurrency) break;
          const record = this.startNext(group);
          if (record) {
            started.push(record);
            progressed = true;
          }
        }
      }
    }
    return started;
  }

  private groupOfRecord(record: R): TopicGroup<R> {
    return this.groups.get(record.topic) ?? this.groupOf(record.topic, undefined, record.sourceTopic ?? record.topic);
  }

  private startNext(group: TopicGroup<R>): R | undefined {
    while (group.budget.running < group.budget.limit) {
      const lane = group.ready.shift();
      if (!lane) return undefined;
      lane.ready = false;
      const record = lane.queue.shift();
      if (!record) continue; // emptied by a drop while it waited
      lane.running = true;
      lane.group = group;
      group.budget.running++;
      this.running++;
      this.countQueued(record, -1);
      this.inFlightLanes.set(record, lane);
      return record;
    }
    return undefined;
  }

  /**
   * Where the first record `match` accepts waits, for diagnostics (a stalled partition): in flight, or queued
   * in its key's lane. Walks every record in flight and every lane: for a timer, never the hot path.
   */
  locate(match: (record: R) => boolean): RecordLocation<R> | undefined {
    for (const record of this.inFlightLanes.keys()) if (match(record)) return { state: 'in-flight', record };
    for (const lane of this.lanes.values()) {
      const ahead = lane.queue.findIndex(match);
      if (ahead < 0) continue;
      let laneRunning: R | undefined;
      if (lane.running) for (const [record, running] of this.inFlightLanes) if (running === lane) laneRunning = record;
      const slotsFull = this.running >= this.concurrency || lane.group.budget.running >= lane.group.budget.limit;
      return { state: 'queued', record: lane.queue.at(ahead)!, ahead, laneRunning, slotsFull };
    }
    return undefined;
  }

  /** The record finished (handled, forwarded, or abandoned): its lane may run its next record. */
  complete(record: R): void {
    const lane = this.inFlightLanes.get(record);
    if (!lane?.running) throw new Error(`complete() for a record that is not in flight: ${record.topic}/${record.partition}@${record.offset}`);
    this.inFlightLanes.delete(record);
    lane.running = false;
    lane.group.budget.running--;
    this.running--;
    if (lane.queue.length > 0) this.markReady(lane);
    else this.retire(lane);
  }

  /** An idle, empty lane leaves the map; kept for reuse unless enough are spare already. */
  private retire(lane: Lane<R>): void {
    this.lanes.delete(lane.id);
    if (this.spareLanes.length < maxSpareLanes) this.spareLanes.push(lane);
  }

  /**
   * Drops the queued records of one partition, or of all with no argument (after a rebalance the broker
   * hands them out again). Records in flight stay in flight: their lanes stay busy until they complete, so a
   * redelivered successor of a key never overtakes it.
   */
  dropQueued(filter?: { topic: string; partition: number }): R[] {
    const dropped: R[] = [];
    for (const lane of this.lanes.values()) {
      const removed = lane.queue.retain(
        (record) => filter !== undefined && (record.topic !== filter.topic || record.partition !== filter.partition),
      );
      for (const record of removed) this.countQueued(record, -1);
      dropped.push(...removed);
      if (!lane.running && lane.queue.length === 0) {
        // A lane still in its group's ready FIFO is left to the garbage collector, never reused.
        if (lane.ready) this.lanes.delete(lane.id);
        else this.retire(lane);
      }
    }
    return dropped;
  }

  private markReady(lane: Lane<R>): void {
    if (lane.running || lane.ready) return;
    lane.ready = true;
    lane.group = this.groupOfRecord(lane.queue.peek()!);
    lane.group.ready.push(lane);
  }

  private countQueued(record: R, delta: number): void {
    const id = record.partitionId ?? partitionId(record.topic, record.partition);
    const count = (this.queuedByPartition.get(id) ?? 0) + delta;
    if (count === 0) this.queuedByPartition.delete(id);
    else this.queuedByPartition.set(id, count);
    this.queuedTotal += delta;
  }
}

function partitionId(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
