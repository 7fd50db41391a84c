/**
 * Retry-tier records fetched before they are due, held in memory and released at their due time: one timer per
 * tier partition, set to the earliest due head, so a retry starts at timer precision instead of one fetch
 * cycle after a gated partition resumes.
 *
 * Order: within a partition, records of one shard key are released in offset order (a record never passes
 * an earlier held record of its key, even if it is due first); records of different keys are released each at
 * its own due time, so the jitter of one key does not delay another. A record is never released before its
 * due time by `Date.now()`. Pure bookkeeping plus timers: the consumer counts held records against its
 * watermarks, tracks their offsets, and drops them (with {@link HeldTierRecords.drop}) on a rebalance or stop.
 */
import { FifoQueue } from '../ordering/fifo-queue.ts';

interface Held<R> {
  record: R;
  dueAt: number;
  /** Arrival order: breaks ties between equal due times in offset order. */
  sequence: number;
  key: string;
}

interface PartitionHold<R> {
  /** Held records per shard key, in offset order. */
  byKey: Map<string, FifoQueue<Held<R>>>;
  /** The head of each key's queue, earliest due first. */
  heads: MinHeap<Held<R>>;
  count: number;
  timer: NodeJS.Timeout | undefined;
  timerDueAt: number;
}

export interface HeldTierRecordsDeps<R> {
  /** The lane a record runs in: records of one key keep their order. */
  shardKeyOf(record: R): string;
  /** Records now due, in release order: to be queued for their lanes. */
  release(records: R[]): void;
  /**
   * Asked of a record about to be released (`now` is past its hold time): a later time to hold it until instead,
   * or a time not after `now` to release it. A delayed event held behind its key's head with no time of its own
   * (due beyond the hold horizon when fetched) comes within the horizon while it waits: held on here until due,
   * it does not wait out its delay in a handler slot.
   */
  holdAgainUntil?(record: R, now: number): number;
}

export class HeldTierRecords<R> {
  private readonly deps: HeldTierRecordsDeps<R>;
  private readonly partitions = new Map<string, PartitionHold<R>>();
  private sequence = 0;
  private total = 0;

  constructor(deps: HeldTierRecordsDeps<R>) {
    this.deps = deps;
  }

  /** Records held now, over every partition. */
  get size(): number {
    return this.total;
  }

  heldFor(partitionId: string): number {
    return this.partitions.get(partitionId)?.count ?? 0;
  }

  /** The earliest due time among the partition's held records, or undefined when it holds none. */
  earliestDue(partitionId: string): number | undefined {
    return this.partitions.get(partitionId)?.heads.peek()?.dueAt;
  }

  /**
   * Holds a record until `dueAt`, or returns false when it may be queued at once: it is due and no earlier
   * record of its key is held in the partition. Records of one partition must be added in offset order.
   */
  hold(partitionId: string, record: R, dueAt: number): boolean {
    const key = this.deps.shardKeyOf(record);
    let partition = this.partitions.get(partitionId);
    const queue = partition?.byKey.get(key);
    if (queue === undefined && dueAt <= Date.now()) return false;
    if (!partition) {
      partition = { byKey: new Map(), heads: new MinHeap(earlier), count: 0, timer: undefined, timerDueAt: Infinity };
      this.partitions.set(partitionId, partition);
    }
    const held: Held<R> = { record, dueAt, sequence: this.sequence++, key };
    if (queue) queue.push(held);
    else {
      const fresh = new FifoQueue<Held<R>>();
      fresh.push(held);
      partition.byKey.set(key, fresh);
      partition.heads.push(held);
    }
    partition.count++;
    this.total++;
    this.schedule(partitionId, partition);
    return true;
  }

  /** Forgets every held record and cancels every timer (rebalance, stop); returns the records dropped. */
  drop(): R[] {
    const dropped: R[] = [];
    for (const partition of this.partitions.values()) {
      clearTimeout(partition.timer);
      for (const queue of partition.byKey.values()) {
        for (let held = queue.shift(); held; held = queue.shift()) dropped.push(held.record);
      }
    }
    this.partitions.clear();
    this.total = 0;
    return dropped;
  }

  private schedule(partitionId: string, partition: PartitionHold<R>): void {
    const head = partition.heads.peek();
    if (!head) {
      clearTimeout(partition.timer);
      this.partitions.delete(partitionId);
      return;
    }
    if (partition.timer !== undefined && partition.timerDueAt <= head.dueAt) return;
    clearTimeout(partition.timer);
    partition.timerDueAt = Math.min(head.dueAt, Date.now() + maxTimerMs);
    // Capped: Node fires a longer timeout after 1 ms (a delayed event a month out would re-arm every ms); the
    // capped timer fires early, releases nothing not due, and sets the next one.
    partition.timer = setTimeout(() => this.fire(partitionId, partition), Math.min(maxTimerMs, Math.max(0, head.dueAt - Date.now())));
  }

  private fire(partitionId: string, partition: PartitionHold<R>): void {
    partition.timer = undefined;
    partition.timerDueAt = Infinity;
    if (this.partitions.get(partitionId) !== partition) return; // dropped meanwhile
    // Checked against Date.now(), not the timer: a timer may fire a millisecond early by the wall clock.
    const now = Date.now();
    const released: R[] = [];
    for (let head = partition.heads.peek(); head && head.dueAt <= now; head = partition.heads.peek()) {
      partition.heads.pop();
      const until = this.deps.holdAgainUntil?.(head.record, now) ?? now;
      if (until > now) {
        // Still its key's head: the key's later records stay behind it.
        head.dueAt = until;
        partition.heads.push(head);
        continue;
      }
      released.push(head.record);
      const queue = partition.byKey.get(head.key)!;
      queue.shift();
      const next = queue.peek();
      if (next) partition.heads.push(next);
      else partition.byKey.delete(head.key);
    }
    partition.count -= released.length;
    this.total -= released.length;
    this.schedule(partitionId, partition);
    if (released.length > 0) this.deps.release(released);
  }
}

/** The longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days). */
export const maxTimerMs = 2_147_483_647;

function earlier<R>(left: Held<R>, right: Held<R>): boolean {
  return left.dueAt < right.dueAt || (left.dueAt === right.dueAt && left.sequence < right.sequence);
}

/** A binary min-heap by `before`. */
class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly before: (left: T, right: T) => boolean;

  constructor(before: (left: T, right: T) => boolean) {
    this.before = before;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    let index = items.push(item) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(items[index]!, items[parent]!)) break;
      [items[index], items[parent]] = [items[parent]!, items[index]!];
      index = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && this.before(items[left]!, items[smallest]!)) smallest = left;
      if (right < items.length && this.before(items[right]!, items[smallest]!)) smallest = right;
      if (smallest === index) break;
      [items[index], items[smallest]] = [items[smallest]!, items[index]!];
      index = smallest;
    }
    return top;
  }
}
