/**
 * A parked key's successors are due with their head, not a whole tier delay after their own forward: the head's
 * due time is kept in the parking state by the retry route and read when a successor is forwarded behind it.
 */
import { describe, expect, it } from 'vitest';
import { successorDueAt, successorFloorMs } from '../../../consumers/retries/failure-router.ts';
import { KeyParking, parkingChanges } from '../../../consumers/retries/key-parking.ts';
import { MemoryParkingStore } from '../../../consumers/retries/memory-parking-store.ts';

const ref = { topic: 't', partition: 0, key: 'k', owner: 'm1/1' };

describe('successorDueAt', () => {
  it('is the head due time when the head is still waiting on its tier', () => {
    expect(successorDueAt({ headDueAt: 15_000 }, 5_000, 12_000)).toBe(15_000);
  });

  it('is never earlier than now plus the floor when the head is due already (its copy is being handled)', () => {
    expect(successorDueAt({ headDueAt: 1_000 }, 5_000, 12_000)).toBe(12_000 + successorFloorMs);
    expect(successorDueAt({ headDueAt: 1_000 }, 100, 12_000)).toBe(12_100); // a tier shorter than the floor: its delay
  });

  it("waits the tier's delay from now when the head's due time is unknown (delay level, replay, older state)", () => {
    expect(successorDueAt({}, 5_000, 12_000)).toBe(17_000);
  });
});

describe("the head's due time in the parking state", () => {
  it('is written by headOnTier, replaced when the head moves up, and dropped for a head of unknown due time', async () => {
    const store = new MemoryParkingStore();
    const parking = new KeyParking(store);
    expect(await parking.change(ref, parkingChanges.headOnTier('a', 1, '1', 0, 1_100))).toMatchObject({ queue: ['a'], headTier: 1, headDueAt: 1_100 });
    await parking.change(ref, parkingChanges.follow('b', '2'));
    // The head fails again on the same tier: only its due time changes, and that change is written.
    expect(await parking.change(ref, parkingChanges.headOnTier('a', 1, '1', 0, 2_300))).toMatchObject({ queue: ['a', 'b'], headDueAt: 2_300 });
    expect((await store.get('t', 0, 'k'))?.headDueAt).toBe(2_300);
    // A delayed head (no due time passed): the old head's time must not stay behind.
    const delayed = await parking.change(ref, parkingChanges.headOnTier('c', 5, '0', 0));
    expect(delayed?.queue).toEqual(['c', 'a', 'b']);
    expect(delayed?.headDueAt).toBeUndefined();
    expect((await store.get('t', 0, 'k'))?.headDueAt).toBeUndefined();
  });
});
