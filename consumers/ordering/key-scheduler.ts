/**
 * Decides which record runs next: one lane per shard key (see {@link shardKeyOf}), at most one record in flight
 * per lane, at most `concurrency` in flight overall. Lanes with work wait their turn in one FIFO, so a key
 * with a long backlog cannot starve the others. A lane waits in the group of the topic of its head record:
 * a retry tier's group ranks just above its source topic (a due retry does not wait behind a source backlog)
 * and below any topic of a higher priority, and shares its source topic's concurrency limit. A source record
 * that was held in memory until its due time ({@link LaneRecord.released}: a delayed event, or a record held
 * behind one of its key) ranks the same way, in a group of its own: at its due time it does not queue behind
 * the source topic's backlog like a newly fetched record. Either way a lane waits in the group of its head
 * record only, so a key's later records still wait behind it, and only records that were held (a bounded
 * number, each once) rank above the source: a source backlog waits while they run, never indefinitely.
 * Within a lane, a retry-tier record may run before the key's other queued records: when, is decided in
 * ./retry-order.ts (by arrival and by source offset).
 * A lane that holds a released source record behind records of its source topic waits in the higher group as a
 * whole (it is lifted): the records ahead of it run first, in order, and it does not wait behind the source
 * backlog for them. Only the records ahead of a lifted record ride along (at most the key's queued records).
 * Pure: no I/O, no timers.
 */
import { FifoQueue } from './fifo-queue.ts';
import type { LaneRecord, Ordering } from './ordering.ts';
import { isRetryRecord, isTierRecord, retryRunsFirst, type QueuedRetry } from './retry-order.ts';

interface Lane<R> {
  /** The lane's key within its partition's lane map (see {@link laneKeyOf}). */
  id: string;
  /** The lane map of its partition (source topic and partition), which holds it while it is in use. */
  home: Map<string, Lane<R>>;
  /** The first record queued: most lanes never hold more than one, so no queue is allocated for them. */
  next: R | undefined;
  /** Records queued after `next`, in order: made when a key repeats within what is held. */
  more: FifoQueue<R> | undefined;
  /** Retry-tier records queued, in arrival order: each may run before `next` ({@link retryFirst}). */
  retries: FifoQueue<QueuedRetry<R>> | undefined;
  /** Records queued in `next`/`more` since the lane was made, and taken from them: their arrival ordinals. */
  sourceIn: number;
  sourceOut: number;
  /** The lane's record in flight. */
  running: R | undefined;
  /** Its handler slot was given back before it completed (see {@link KeyScheduler.releaseSlot}). */
  slotReleased: boolean;
  ready: boolean;
  group: TopicGroup<R>;
  /** Queued records that rank above their source topic (a retry, a released record): the lane is lifted while any wait. */
  lifted: number;
  /** The group of the last lifted record queued. */
  liftGroup: TopicGroup<R> | undefined;
  /** Entries of this lane left in `staleGroup`'s ready FIFO when it was lifted out of it: skipped when reached. */
  staleEntries: number;
  staleGroup: TopicGroup<R> | undefined;
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

/**
 * Idle lanes (nothing queued, nothing in flight) stay in the lane map, so a key that comes again finds its lane
 * with one lookup and no allocation; they are swept out when there are more of them than this and than the
 * lanes in use.
 */
const idleLanesKept = 10_000;

/** Per partition: records queued. One object per partition, updated in place (no Map write per record). */
interface PartitionCount {
  queued: number;
}

export class KeyScheduler<R extends LaneRecord> {
  /**
   * The lanes, per partition of the source topic, by key within it: the per-record lookup hashes the key's
   * bytes only, not a string built per record from the topic, the partition and the key.
   */
  private readonly partitionLanes = new Map<string, Map<string, Lane<R>>>();
  /** Lanes in the maps. */
  private laneCount = 0;
  /** Lanes in the maps with nothing queued and nothing in flight. */
  private idleLanes = 0;
  private readonly groups = new Map<string, TopicGroup<R>>();
  /** Groups by rank, highest priority (lowest rank) first. */
  private ranks: TopicGroup<R>[][] = [];
  private readonly queuedByPartition = new Map<string, PartitionCount>();
  /** Records in flight (started, not completed). */
  private running = 0;
  /** Handler slots taken: records in flight that have not given theirs back. At most `concurrency`. */
  private slots = 0;
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
    return this.queuedByPartition.get(partitionId(topic, partition))?.queued ?? 0;
  }

  enqueue(record: R): void {
    const home = this.laneMapOf(record);
    const id = laneKeyOf(record, this.ordering);
    let lane = home.get(id);
    if (!lane) {
      lane = { id, home, next: undefined, more: undefined, retries: undefined, sourceIn: 0, sourceOut: 0, running: undefined, slotReleased: false, ready: false, group: this.groupOfRecord(record), lifted: 0, liftGroup: undefined, staleEntries: 0, staleGroup: undefined };
      home.set(id, lane);
      this.laneCount++;
    } else if (isIdle(lane)) this.idleLanes--;
    if (isRetryRecord(record)) (lane.retries ??= new FifoQueue<QueuedRetry<R>>()).push({ record, after: lane.sourceIn });
    else {
      lane.sourceIn++;
      if (lane.next === undefined) lane.next = record;
      else (lane.more ??= new FifoQueue<R>()).push(record);
    }
    this.countQueued(record, 1);
    if (isLifted(record)) {
      lane.lifted++;
      lane.liftGroup = this.groupOfRecord(record);
      if (lane.ready && lane.liftGroup.rank < lane.group.rank) this.lift(lane, lane.liftGroup);
    }
    this.markReady(lane);
  }

  /** A ready lane moves to a higher group: its entry in the old group's FIFO is skipped when reached. */
  private lift(lane: Lane<R>, group: TopicGroup<R>): void {
    lane.staleEntries++;
    lane.staleGroup = lane.group;
    lane.group = group;
    group.ready.push(lane);
  }

  /** The lane map of the record's partition (of its source topic: a key's lane spans its retry tiers). */
  private laneMapOf(record: R): Map<string, Lane<R>> {
    const source = record.sourceTopic ?? record.topic;
    const id = source === record.topic && record.partitionId !== undefined ? record.partitionId : partitionId(source, record.partition);
    let home = this.partitionLanes.get(id);
    if (!home) {
      home = new Map();
      this.partitionLanes.set(id, home);
    }
    return home;
  }

  private *allLanes(): Generator<Lane<R>> {
    for (const home of this.partitionLanes.values()) yield* home.values();
  }

  private removeLane(lane: Lane<R>): void {
    if (lane.home.get(lane.id) === lane) {
      lane.home.delete(lane.id);
      this.laneCount--;
    }
  }

  /** The records that may start now, each marked in flight until {@link complete}. */
  takeRunnable(): R[] {
    const started: R[] = [];
    // Strict priority between ranks; round-robin between the topics of one rank.
    for (const groups of this.ranks) {
      let progressed = true;
      while (progressed && this.slots < this.concurrency) {
        progressed = false;
        for (const group of groups) {
          if (this.slots >= this.concurrency) break;
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
    const source = record.sourceTopic ?? record.topic;
    // A released source record ranks as its topic's retry tiers do (a tier record is ranked so by its topic).
    if (record.released === true && source === record.topic) {
      const topic = releasedGroupOf(source);
      return this.groups.get(topic) ?? this.groupOf(topic, undefined, source);
    }
    return this.groups.get(record.topic) ?? this.groupOf(record.topic, undefined, source);
  }

  private startNext(group: TopicGroup<R>): R | undefined {
    while (group.budget.running < group.budget.limit) {
      const lane = group.ready.shift();
      if (!lane) return undefined;
      if (lane.staleEntries > 0 && lane.staleGroup === group) {
        // Left here when the lane was lifted (it waits, or ran, in a higher group): entries come in push order, so
        // the stale ones are reached before any later one.
        lane.staleEntries--;
        continue;
      }
      lane.ready = false;
      const record = shiftLane(lane);
      if (!record) {
        // Emptied by a drop while it waited (then it left the map, unless its key came again).
        if (isIdle(lane) && lane.home.get(lane.id) === lane) this.idleLanes++;
        continue;
      }
      lane.running = record;
      lane.group = group;
      group.budget.running++;
      this.running++;
      this.slots++;
      this.countQueued(record, -1);
      record.schedulerLane = lane;
      return record;
    }
    return undefined;
  }

  /**
   * Where the first record `match` accepts waits, for diagnostics (a stalled partition): in flight, or queued
   * in its key's lane. Walks every lane: for a timer, never the hot path.
   */
  locate(match: (record: R) => boolean): RecordLocation<R> | undefined {
    for (const lane of this.allLanes()) if (lane.running !== undefined && match(lane.running)) return { state: 'in-flight', record: lane.running };
    for (const lane of this.allLanes()) {
      const queued = queuedOf(lane);
      const ahead = queued.findIndex(match);
      if (ahead < 0) continue;
      const slotsFull = this.slots >= this.concurrency || lane.group.budget.running >= lane.group.budget.limit;
      return { state: 'queued', record: queued[ahead]!, ahead, laneRunning: lane.running, slotsFull };
    }
    return undefined;
  }

  /** The record finished (handled, forwarded, or abandoned): its lane may run its next record. */
  complete(record: R): void {
    const lane = record.schedulerLane as Lane<R> | undefined;
    if (lane?.running !== record) throw new Error(`complete() for a record that is not in flight: ${record.topic}/${record.partition}@${record.offset}`);
    record.schedulerLane = undefined;
    lane.running = undefined;
    if (lane.slotReleased) lane.slotReleased = false;
    else {
      lane.group.budget.running--;
      this.slots--;
    }
    this.running--;
    if (hasQueued(lane)) this.markReady(lane);
    else this.retire();
  }

  /**
   * The record's handler is done and only its completion remains (the idempotency store's done marker): its
   * handler slot goes to the next record, while its lane stays busy until {@link complete}, so the key's next
   * record still waits for it. No-op for a record not in flight or released already.
   */
  releaseSlot(record: R): void {
    const lane = record.schedulerLane as Lane<R> | undefined;
    if (lane?.running !== record || lane.slotReleased) return;
    lane.slotReleased = true;
    lane.group.budget.running--;
    this.slots--;
  }

  /** An idle lane stays in the map for its key's next record; idle lanes are swept when there are many. */
  private retire(): void {
    this.idleLanes++;
    if (this.idleLanes > idleLanesKept && this.idleLanes * 2 > this.laneCount) this.sweep();
  }

  private sweep(): void {
    for (const home of this.partitionLanes.values()) {
      for (const [id, lane] of home) {
        if (!isIdle(lane)) continue;
        home.delete(id);
        this.laneCount--;
      }
    }
    this.idleLanes = 0;
  }

  /**
   * Drops the queued records of one partition, or of all with no argument (after a rebalance the broker
   * hands them out again). Records in flight stay in flight: their lanes stay busy until they complete, so a
   * redelivered successor of a key never overtakes it.
   */
  dropQueued(filter?: { topic: string; partition: number }): R[] {
    const dropped: R[] = [];
    for (const lane of [...this.allLanes()]) {
      if (!hasQueued(lane)) continue;
      const queued = queuedOf(lane);
      const kept: R[] = [];
      for (const record of queued) {
        if (filter !== undefined && (record.topic !== filter.topic || record.partition !== filter.partition)) kept.push(record);
        else {
          this.countQueued(record, -1);
          dropped.push(record);
        }
      }
      const keptRetries = kept.filter(isRetryRecord);
      const keptSource = kept.filter((record) => !isRetryRecord(record));
      // Their arrival order is not kept: every kept record counts as ahead of every kept retry (arrival order).
      lane.retries = keptRetries.length > 0 ? FifoQueue.of(keptRetries.map((record) => ({ record, after: keptSource.length }))) : undefined;
      lane.sourceIn = keptSource.length;
      lane.sourceOut = 0;
      lane.next = keptSource[0];
      lane.more = keptSource.length > 1 ? FifoQueue.of(keptSource.slice(1)) : undefined;
      lane.lifted = kept.filter(isLifted).length;
      if (lane.running === undefined && !hasQueued(lane)) {
        // A lane still in its group's ready FIFO is left to the garbage collector: that entry finds it empty.
        if (lane.ready) this.removeLane(lane);
        else this.idleLanes++;
      }
    }
    return dropped;
  }

  private markReady(lane: Lane<R>): void {
    if (lane.running !== undefined || lane.ready) return;
    lane.ready = true;
    const next = this.groupOfRecord(headOf(lane)!);
    lane.group = lane.lifted > 0 && lane.liftGroup !== undefined && lane.liftGroup.rank < next.rank ? lane.liftGroup : next;
    lane.group.ready.push(lane);
  }

  private countQueued(record: R, delta: number): void {
    const id = record.partitionId ?? partitionId(record.topic, record.partition);
    let count = this.queuedByPartition.get(id);
    if (!count) {
      count = { queued: 0 };
      this.queuedByPartition.set(id, count);
    }
    count.queued += delta;
    this.queuedTotal += delta;
  }
}

/** A lane's key within its partition: the key's bytes ('key'), one lane ('partition'), the offset ('none'). */
function laneKeyOf(record: LaneRecord, ordering: Ordering): string {
  switch (ordering) {
    case 'key':
      // latin1 maps each byte to one character: a distinct key for distinct bytes.
      return record.key === null ? '' : record.key.toString('latin1');
    case 'partition':
      return '';
    case 'none':
      return `${record.topic}\u0000o:${record.offset}`;
  }
}

function isIdle<R>(lane: Lane<R>): boolean {
  return lane.running === undefined && !hasQueued(lane) && !lane.ready;
}

function hasQueued<R>(lane: Lane<R>): boolean {
  return lane.next !== undefined || (lane.retries !== undefined && lane.retries.length > 0);
}

/** The record the lane runs next: its first queued retry when {@link retryFirst}, else its next source record. */
function headOf<R extends LaneRecord>(lane: Lane<R>): R | undefined {
  return retryFirst(lane) ? lane.retries!.peek()!.record : lane.next;
}

/** Whether the lane's first queued retry runs before its other queued records (./retry-order.ts). */
function retryFirst<R extends LaneRecord>(lane: Lane<R>): boolean {
  const retry = lane.retries?.peek();
  return retry !== undefined && retryRunsFirst(retry, lane.sourceOut, (position) => (position === 0 ? lane.next : lane.more?.at(position - 1)));
}

function shiftLane<R extends LaneRecord>(lane: Lane<R>): R | undefined {
  if (retryFirst(lane)) {
    const retry = lane.retries!.shift()!;
    if (lane.retries!.length === 0) lane.retries = undefined; // an idle lane kept for reuse holds no empty queue
    if (lane.lifted > 0) lane.lifted--;
    return retry.record;
  }
  const record = lane.next;
  if (record !== undefined) lane.sourceOut++;
  lane.next = lane.more?.shift();
  if (record !== undefined && lane.lifted > 0 && isLifted(record)) lane.lifted--;
  return record;
}

/** A record that ranks above its source topic: a retry-tier or delay-level record, or a released source record. */
function isLifted(record: LaneRecord): boolean {
  return record.released === true || isTierRecord(record);
}

/** The lane's queued records in the order they run (for diagnostics and drops). */
function queuedOf<R extends LaneRecord>(lane: Lane<R>): R[] {
  const copy: Lane<R> = { ...lane, retries: lane.retries === undefined ? undefined : FifoQueue.of(lane.retries.toArray()), more: lane.more === undefined ? undefined : FifoQueue.of(lane.more.toArray()) };
  const queued: R[] = [];
  for (let record = shiftOrdered(copy); record !== undefined; record = shiftOrdered(copy)) queued.push(record);
  return queued;
}

/** Takes the lane's next record in run order, without the lift bookkeeping (for {@link queuedOf}'s copy). */
function shiftOrdered<R extends LaneRecord>(lane: Lane<R>): R | undefined {
  if (retryFirst(lane)) return lane.retries!.shift()!.record;
  const record = lane.next;
  if (record !== undefined) lane.sourceOut++;
  lane.next = lane.more?.shift();
  return record;
}

/** The group of a source topic's released records: a name no topic can have (Kafka names have no NUL). */
function releasedGroupOf(topic: string): string {
  return `${topic}\u0000released`;
}

function partitionId(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
