/**
 * Durable key-parking state (docs/guarantees.md, "Key parking"). While key K is parked for (group, source topic), the
 * ids of K's events on the ladder wait in `queue`, the head first; `headTier` is where the head is now;
 * `held` means its head was dead-lettered under `onDeadLetter: 'hold'` and K's later events follow it into
 * the DLT until an operator releases K.
 */
export interface ParkedKey {
  queue: string[];
  headTier: number;
  held: boolean;
  parkedAt: number;
}

export interface ParkedKeyEntry {
  topic: string;
  partition: number;
  key: string;
  state: ParkedKey;
}

export interface ParkingStore {
  /** All parked keys of one partition of a source topic. */
  load(topic: string, partition: number): Promise<Map<string, ParkedKey>>;
  get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined>;
  put(topic: string, partition: number, key: string, state: ParkedKey): Promise<void>;
  remove(topic: string, partition: number, key: string): Promise<void>;
  list(topic?: string): Promise<ParkedKeyEntry[]>;
}
