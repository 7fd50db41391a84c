/**
 * `orderly keys release`, as one atomic change of the key's parking state: a held key is un-held (its queued
 * events are handled in order), or unparked when nothing is queued. The change is a compare-and-set, so a
 * consumer writing the key at the same moment (its head settling, a successor joining the queue) is never
 * overwritten: the release is applied to whatever state is there.
 */
import { changeParkedKey } from '../consumers/retries/change-parked-key.ts';
import type { ParkedKey, ParkingStore } from '../consumers/retries/parking-store.ts';

export type ParkedKeyRelease =
  /** Released: `queued` events go on in order (0: the key was unparked). */
  | { status: 'released'; queued: number }
  /** Parked but not held: nothing to release. */
  | { status: 'not-held'; state: ParkedKey }
  /** Not parked (any more). */
  | { status: 'not-parked' };

export async function releaseParkedKey(store: ParkingStore, topic: string, partition: number, key: string): Promise<ParkedKeyRelease> {
  let outcome: ParkedKeyRelease = { status: 'not-parked' };
  await changeParkedKey(store, topic, partition, key, (current) => {
    if (!current) {
      outcome = { status: 'not-parked' };
      return current;
    }
    if (!current.held) {
      outcome = { status: 'not-held', state: current };
      return current;
    }
    outcome = { status: 'released', queued: current.queue.length };
    return { ...current, held: false };
  });
  return outcome;
}
