/**
 * The parked keys of the partitions this member holds: loaded from the {@link ParkingStore} when a partition
 * is first seen after a (re)join, written through on every change. A key found parked is read again from the
 * store, so an operator's `orderly keys release` takes effect at its next event.
 */
import type { ParkedKey, ParkingStore } from './parking-store.ts';

export class KeyParking {
  private readonly store: ParkingStore;
  private partitions = new Map<string, Promise<Map<string, ParkedKey>>>();

  constructor(store: ParkingStore) {
    this.store = store;
  }

  async stateOf(topic: string, partition: number, key: string): Promise<ParkedKey | undefined> {
    const parked = await this.partition(topic, partition);
    if (!parked.has(key)) return undefined;
    const fresh = await this.store.get(topic, partition, key);
    if (fresh) parked.set(key, fresh);
    else parked.delete(key);
    return fresh;
  }

  /** Persists the key's state (or unparks it with `undefined`) before anything depends on it. */
  async save(topic: string, partition: number, key: string, state: ParkedKey | undefined): Promise<void> {
    const parked = await this.partition(topic, partition);
    if (state && (state.queue.length > 0 || state.held)) {
      await this.store.put(topic, partition, key, state);
      parked.set(key, state);
    } else {
      await this.store.remove(topic, partition, key);
      parked.delete(key);
    }
  }

  /** Parked keys among the partitions loaded so far. */
  async count(): Promise<number> {
    let total = 0;
    for (const loading of this.partitions.values()) total += (await loading.catch(() => new Map())).size;
    return total;
  }

  /** Forgets the cache (after a rebalance another member may have changed the state). */
  reset(): void {
    this.partitions = new Map();
  }

  private partition(topic: string, partition: number): Promise<Map<string, ParkedKey>> {
    const id = `${topic}\u0000${partition}`;
    let loading = this.partitions.get(id);
    if (!loading) {
      loading = this.store.load(topic, partition);
      this.partitions.set(id, loading);
      loading.catch(() => this.partitions.delete(id)); // a failed load is tried again next time
    }
    return loading;
  }
}
