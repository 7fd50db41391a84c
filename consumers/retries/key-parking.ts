/**
 * The parked keys of the partitions this member holds. When a partition is first seen after a (re)join, the
 * member takes it in the {@link ParkingStore} ({@link ParkingStore.own}) and loads its parked keys; from then on:
 * - a key known parked is read again from the store at each of its events (an operator's `orderly keys release`
 *   or `dlt replay`, or a write made elsewhere, takes effect at once); a key not known parked can only be parked
 *   by this member while it owns the partition (every other member's writes are fenced, operator tools only
 *   change keys already parked), so it is not read;
 * - every change is a compare-and-set on the state just read ({@link KeyParking.change}), fenced by the owner
 *   token of the record's assignment: a member that lost the partition gets {@link ParkingFencedError} and
 *   writes nothing, and a change made meanwhile by someone else is read again and the change re-applied to it.
 * The changes themselves are pure functions of the current state ({@link parkingChanges}).
 */
import { OrderlyError } from '../../core/errors.ts';
import { changeParkedKey, type ParkingChange } from './change-parked-key.ts';
import type { ParkedKey, ParkingStore } from './parking-store.ts';

export type { ParkingChange } from './change-parked-key.ts';

/** A key's parking state, as one record's assignment sees it: `owner` fences its writes. */
export interface ParkingRef {
  topic: string;
  partition: number;
  key: string;
  /** The owner token of the assignment the record was fetched in (`memberId/epoch`). */
  owner: string;
}

/** The partition's parking state belongs to another owner now: nothing was written. */
export class ParkingFencedError extends OrderlyError {
  constructor(ref: ParkingRef) {
    super('FENCED', `the parking state of ${ref.topic} partition ${ref.partition} belongs to another assignment than ${ref.owner}; nothing written`, {
      retriable: true,
      context: { topic: ref.topic, partition: ref.partition },
    });
  }
}

export interface KeyParkingOptions {
  /**
   * The owner token of the member's current assignment, used to take a partition when it is first seen. Without
   * it, the token of the record that first touches the partition is used.
   */
  currentOwner?: () => string;
}

export class KeyParking {
  private readonly store: ParkingStore;
  private readonly currentOwner: (() => string) | undefined;
  private partitions = new Map<string, Promise<Map<string, ParkedKey>>>();

  constructor(store: ParkingStore, { currentOwner }: KeyParkingOptions = {}) {
    this.store = store;
    this.currentOwner = currentOwner;
  }

  /** The key's state, read again from the store when the key may be parked. */
  async stateOf(ref: ParkingRef): Promise<ParkedKey | undefined> {
    const parked = await this.partition(ref);
    if (!parked) return this.store.get(ref.topic, ref.partition, ref.key);
    if (!parked.has(ref.key)) return undefined;
    const fresh = await this.store.get(ref.topic, ref.partition, ref.key);
    if (fresh) parked.set(ref.key, fresh);
    else parked.delete(ref.key);
    return fresh;
  }

  /**
   * Applies `change` to the key's current state and writes the result atomically (a key with nothing queued
   * and not held is unparked); a state changed meanwhile is read again and the change applied to it. Returns
   * the state written. Throws {@link ParkingFencedError} when the partition is no longer `ref.owner`'s.
   */
  async change(ref: ParkingRef, change: ParkingChange): Promise<ParkedKey | undefined> {
    const parked = await this.partition(ref);
    const { result, state } = await changeParkedKey(this.store, ref.topic, ref.partition, ref.key, change, ref.owner);
    if (result === 'fenced') throw new ParkingFencedError(ref);
    if (state) parked?.set(ref.key, state);
    else parked?.delete(ref.key);
    return state;
  }

  /** Parked keys among the partitions loaded so far. */
  async count(): Promise<number> {
    let total = 0;
    for (const loading of this.partitions.values()) total += (await loading.catch(() => new Map())).size;
    return total;
  }

  /** Forgets the cache (after a rebalance another member may have changed the state): partitions are taken again. */
  reset(): void {
    this.partitions = new Map();
  }

  /**
   * The partition's parked keys, taken for the current assignment on first use; undefined for a record of an
   * earlier assignment (revoked in flight): it never takes the partition (that would fence its new owner), and
   * its writes, fenced with its old token, are refused.
   */
  private partition(ref: ParkingRef): Promise<Map<string, ParkedKey> | undefined> {
    const { topic, partition } = ref;
    const owner = this.currentOwner?.() ?? ref.owner;
    if (ref.owner !== owner) return Promise.resolve(undefined);
    const id = `${topic}\u0000${partition}`;
    let loading = this.partitions.get(id);
    if (!loading) {
      loading = this.store.own(topic, partition, owner).then(() => this.store.load(topic, partition));
      this.partitions.set(id, loading);
      loading.catch(() => {
        if (this.partitions.get(id) === loading) this.partitions.delete(id); // a failed load is tried again next time
      });
    }
    return loading;
  }
}

/** The changes the consumer makes to a key's parking state, as pure functions of the current state. */
export const parkingChanges = {
  /** The event is settled (handled, a duplicate, dead-lettered): it leaves the queue, wherever it is. */
  advance(eventId: string): ParkingChange {
    return (current) => current && withoutEvent(current, eventId);
  },

  /**
   * The head failed and goes up the ladder to `tier`, due there at `dueAt` when known (a retry tier; undefined on a
   * delay level): parks the key with it as head when not parked yet.
   */
  headOnTier(eventId: string, tier: number, offset: string, now: number, dueAt?: number): ParkingChange {
    return (current) => {
      const due = dueAt === undefined ? {} : { headDueAt: dueAt };
      if (!current) return { queue: [eventId], headTier: tier, held: false, parkedAt: now, ...due, offsets: offsetsWith(undefined, eventId, offset) };
      if (!current.queue.includes(eventId)) return { ...withoutHeadDue(current), queue: [eventId, ...current.queue], headTier: tier, ...due, offsets: offsetsWith(current.offsets, eventId, offset) };
      return current.queue[0] === eventId ? { ...withoutHeadDue(current), headTier: tier, ...due } : current;
    };
  },

  /**
   * A later event of a parked key (or one the queue lost): it joins the queue in source-offset order (ids of
   * unknown offset stay ahead of it). Not parked any more: nothing changes, the event is handled.
   */
  follow(eventId: string, offset: string): ParkingChange {
    return (current) => {
      if (!current || current.queue.includes(eventId)) return current;
      const mine = offsetOf(offset);
      const known = current.offsets ?? {};
      const after = (id: string) => mine !== undefined && Object.hasOwn(known, id) && (offsetOf(known[id]!) ?? -1n) > mine;
      let index = current.queue.findIndex(after);
      if (index < 0) index = current.queue.length;
      return { ...current, queue: [...current.queue.slice(0, index), eventId, ...current.queue.slice(index)], offsets: offsetsWith(current.offsets, eventId, offset) };
    };
  },

  /** The head was dead-lettered under `onDeadLetter: 'hold'`: the key is held until an operator releases it. */
  hold(eventId: string, now: number): ParkingChange {
    return (current) => (current ? { ...withoutEvent(current, eventId), held: true } : { queue: [], headTier: 1, held: true, parkedAt: now });
  },
};

/** The state without its head's due time (a new head whose due time is not known). */
function withoutHeadDue(state: ParkedKey): ParkedKey {
  if (state.headDueAt === undefined) return state;
  const { headDueAt: _, ...rest } = state;
  return rest;
}

function withoutEvent(state: ParkedKey, eventId: string): ParkedKey {
  if (!state.queue.includes(eventId) && !state.replaying?.includes(eventId)) return state;
  const next: ParkedKey = { ...state, queue: state.queue.filter((id) => id !== eventId) };
  if (state.offsets && Object.hasOwn(state.offsets, eventId)) {
    const offsets = offsetsWith(state.offsets, undefined, undefined);
    delete offsets[eventId];
    next.offsets = offsets;
  }
  if (state.replaying) next.replaying = state.replaying.filter((id) => id !== eventId);
  return next;
}

/** A copy of `offsets` (no prototype: an id is never a prototype key), with `eventId` at `offset` when given. */
function offsetsWith(offsets: Record<string, string> | undefined, eventId: string | undefined, offset: string | undefined): Record<string, string> {
  const copy = Object.assign(Object.create(null) as Record<string, string>, offsets);
  if (eventId !== undefined && offset !== undefined) copy[eventId] = offset;
  return copy;
}

function offsetOf(offset: string): bigint | undefined {
  return /^\d{1,20}$/.test(offset) ? BigInt(offset) : undefined;
}
