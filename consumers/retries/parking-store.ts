/**
 * Durable key-parking state (docs/guarantees.md, "Key parking"). While key K is parked for (group, source topic), the
 * ids of K's events on the ladder wait in `queue`, the head first; `headTier` is where the head is now;
 * `held` means its head was dead-lettered under `onDeadLetter: 'hold'` and K's later events follow it into
 * the DLT until an operator releases K.
 *
 * Every write is a compare-and-set on the key's `version` ({@link ParkingStore.update}), and the consumer's
 * writes are fenced by the partition's owner token ({@link ParkingStore.own}): a member that lost the partition,
 * an operator command and the owner can never overwrite each other's changes unseen.
 */
export interface ParkedKey {
  queue: string[];
  headTier: number;
  held: boolean;
  parkedAt: number;
  /**
   * When the head's copy on its retry tier is due (epoch ms), where known: a successor forwarded behind it is due
   * then too, not a whole tier delay after its own forward. Absent for a head on a delay level or put back by a
   * replay (a successor then waits the tier's delay from its forward).
   */
  headDueAt?: number;
  /** The source offset of queued events, by id, where known: an id put back into the queue goes in offset order. */
  offsets?: Record<string, string>;
  /**
   * A lane replay's intent (`orderly dlt replay`): these ids were put at the front of the queue and their tier-1
   * copies may not be produced yet. Cleared when the replay confirms; a rerun of the replay finishes it.
   */
  replaying?: string[];
  /** A lane replay of this key is running (or crashed): another one is refused until `expiresAt` (epoch ms). */
  replayLock?: { holder: string; expiresAt: number };
  /** Set by the store on read: the value a compare-and-set expects. Absent on a state not read from a store. */
  version?: number;
}

export interface ParkedKeyEntry {
  topic: string;
  partition: number;
  key: string;
  state: ParkedKey;
}

/** What a conditional write did: written, refused because the state changed since it was read, or refused because another member owns the partition. */
export type ParkingWriteResult = 'ok' | 'conflict' | 'fenced';

export interface ParkingStore {
  /** All parked keys of one partition of a source topic. */
  load(topic: string, partition: number): Promise<Map<string, ParkedKey>>;
  get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined>;
  /**
   * Makes `owner` the partition's owner: from now on a write fenced with another token is refused. The member
   * that is assigned the partition calls it before it reads or writes the partition's parking state.
   */
  own(topic: string, partition: number, owner: string): Promise<void>;
  /**
   * Atomically writes `next` (or unparks the key with `undefined`) if the key's state is still the one read
   * (`expected`: its `version`, or `undefined` for "not parked") and, given an `owner`, the partition is still
   * that owner's.
   */
  update(topic: string, partition: number, key: string, expected: ParkedKey | undefined, next: ParkedKey | undefined, owner?: string): Promise<ParkingWriteResult>;
  /** Unconditional write (tests and migrations); everything else uses {@link update}. */
  put(topic: string, partition: number, key: string, state: ParkedKey): Promise<void>;
  /** Unconditional unpark (tests and migrations); everything else uses {@link update}. */
  remove(topic: string, partition: number, key: string): Promise<void>;
  list(topic?: string): Promise<ParkedKeyEntry[]>;
}
