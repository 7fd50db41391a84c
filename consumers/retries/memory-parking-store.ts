/**
 * {@link ParkingStore} in memory, with the same compare-and-set and owner fencing as the Redis store: for tests
 * and for a single process that needs no durability. States are copied in and out, so a caller's object never
 * aliases the stored one.
 */
import type { ParkedKey, ParkedKeyEntry, ParkingStore, ParkingWriteResult } from './parking-store.ts';

interface PartitionState {
  owner: string | undefined;
  version: number;
  keys: Map<string, ParkedKey>;
}

export class MemoryParkingStore implements ParkingStore {
  private readonly partitions = new Map<string, PartitionState & { topic: string; partition: number }>();

  private partitionOf(topic: string, partition: number) {
    const id = `${topic}\u0000${partition}`;
    let state = this.partitions.get(id);
    if (!state) {
      state = { topic, partition, owner: undefined, version: 0, keys: new Map() };
      this.partitions.set(id, state);
    }
    return state;
  }

  async load(topic: string, partition: number): Promise<Map<string, ParkedKey>> {
    return new Map([...this.partitionOf(topic, partition).keys].map(([key, state]) => [key, copy(state)]));
  }

  async get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined> {
    const state = this.partitionOf(topic, partition).keys.get(key);
    return state && copy(state);
  }

  async own(topic: string, partition: number, owner: string): Promise<void> {
    this.partitionOf(topic, partition).owner = owner;
  }

  async update(topic: string, partition: number, key: string, expected: ParkedKey | undefined, next: ParkedKey | undefined, owner?: string): Promise<ParkingWriteResult> {
    const state = this.partitionOf(topic, partition);
    if (owner !== undefined && owner !== '' && state.owner !== owner) return 'fenced';
    const current = state.keys.get(key);
    if ((current === undefined) !== (expected === undefined) || (current && current.version !== (expected?.version ?? 0))) return 'conflict';
    this.write(state, key, next);
    return 'ok';
  }

  async put(topic: string, partition: number, key: string, next: ParkedKey): Promise<void> {
    this.write(this.partitionOf(topic, partition), key, next);
  }

  async remove(topic: string, partition: number, key: string): Promise<void> {
    this.write(this.partitionOf(topic, partition), key, undefined);
  }

  async list(topic?: string): Promise<ParkedKeyEntry[]> {
    const entries: ParkedKeyEntry[] = [];
    for (const state of this.partitions.values()) {
      if (topic !== undefined && state.topic !== topic) continue;
      for (const [key, parked] of state.keys) entries.push({ topic: state.topic, partition: state.partition, key, state: copy(parked) });
    }
    return entries.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.key.localeCompare(b.key));
  }

  private write(state: PartitionState, key: string, next: ParkedKey | undefined): void {
    if (next === undefined) state.keys.delete(key);
    else state.keys.set(key, { ...copy(next), version: ++state.version });
  }
}

function copy(state: ParkedKey): ParkedKey {
  return {
    ...state,
    queue: [...state.queue],
    version: state.version ?? 0,
    ...(state.offsets ? { offsets: Object.assign(Object.create(null) as Record<string, string>, state.offsets) } : {}),
    ...(state.replaying ? { replaying: [...state.replaying] } : {}),
    ...(state.replayLock ? { replayLock: { ...state.replayLock } } : {}),
  };
}
