/**
 * One atomic change of a key's parking state, for every writer (the consumer, `orderly keys release`,
 * `orderly dlt replay`): read the state, compute the next one, write it only if the state is still the one read
 * (compare-and-set on its version); if someone wrote meanwhile, read again and apply the change to what is there.
 * No writer ever overwrites a change it has not seen.
 */
import { OrderlyError } from '../../core/errors.ts';
import type { ParkedKey, ParkingStore } from './parking-store.ts';

/** A change of one key's state: the next state from the current one (`undefined`: not parked). */
export type ParkingChange = (current: ParkedKey | undefined) => ParkedKey | undefined;

export interface ParkedKeyChange {
  /** `'fenced'`: the partition is another owner's; nothing was written. */
  result: 'ok' | 'fenced';
  /** The state now (written, or found unchanged); on `'fenced'`, the state read. */
  state: ParkedKey | undefined;
}

/** How many times in a row a change may lose its compare-and-set before the caller is told. */
const maxConflicts = 50;

/**
 * Applies `change` atomically. A key with nothing queued and not held is unparked. With `owner`, the write is
 * fenced by the partition's owner token ({@link ParkingStore.own}).
 */
export async function changeParkedKey(store: ParkingStore, topic: string, partition: number, key: string, change: ParkingChange, owner?: string): Promise<ParkedKeyChange> {
  for (let attempt = 1; attempt <= maxConflicts; attempt++) {
    const current = await store.get(topic, partition, key);
    const changed = change(current);
    const next = changed && (changed.queue.length > 0 || changed.held) ? changed : undefined;
    if (sameState(current, next)) return { result: 'ok', state: current };
    const result = await store.update(topic, partition, key, current, next, owner);
    if (result === 'fenced') return { result, state: current };
    if (result === 'ok') return { result, state: next };
  }
  throw new OrderlyError('FENCED', `the parking state of key "${key}" (${topic} partition ${partition}) changed under ${maxConflicts} writes in a row`, { retriable: true, context: { topic, partition } });
}

function sameState(left: ParkedKey | undefined, right: ParkedKey | undefined): boolean {
  if (left === undefined || right === undefined) return left === right;
  return (
    left.headTier === right.headTier &&
    left.headDueAt === right.headDueAt &&
    left.held === right.held &&
    sameList(left.queue, right.queue) &&
    sameList(left.replaying ?? [], right.replaying ?? []) &&
    left.replayLock?.holder === right.replayLock?.holder &&
    left.replayLock?.expiresAt === right.replayLock?.expiresAt
  );
}

function sameList(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((id, index) => right[index] === id);
}
