/**
 * KeyParking over the in-memory store (same compare-and-set and fencing as Redis): interleavings of the owner,
 * a member that lost the partition and an operator write, each step in the order the test says.
 */
import { describe, expect, it } from 'vitest';
import { KeyParking, ParkingFencedError, parkingChanges } from '../../../consumers/retries/key-parking.ts';
import { MemoryParkingStore } from '../../../consumers/retries/memory-parking-store.ts';
import type { ParkedKey, ParkingStore } from '../../../consumers/retries/parking-store.ts';

const ref = (owner: string, key = 'k') => ({ topic: 't', partition: 0, key, owner });

describe('KeyParking', () => {
  it('re-applies a change to the state another writer left meanwhile, instead of overwriting it', async () => {
    const store = new MemoryParkingStore();
    const parking = new KeyParking(store);
    await parking.change(ref('m1/1'), parkingChanges.headOnTier('a', 1, '1', 0));
    await parking.change(ref('m1/1'), parkingChanges.follow('b', '2'));
    // An operator's write lands between the member's read and its write.
    let raced = false;
    const racing: ParkingStore = Object.assign(Object.create(store) as ParkingStore, {
      get: async (topic: string, partition: number, key: string) => {
        const read = await store.get(topic, partition, key);
        if (!raced && read) {
          raced = true;
          await store.update(topic, partition, key, read, { ...read, queue: ['r', ...read.queue], headTier: 1 });
        }
        return read;
      },
    });
    const next = await new KeyParking(racing).change(ref('m1/1'), parkingChanges.follow('c', '3'));
    expect(next?.queue).toEqual(['r', 'a', 'b', 'c']);
    expect((await store.get('t', 0, 'k'))?.queue).toEqual(['r', 'a', 'b', 'c']);
  });

  it('refuses the writes of a member whose partition another member took', async () => {
    const store = new MemoryParkingStore();
    const old = new KeyParking(store, { currentOwner: () => 'm1/1' });
    const next = new KeyParking(store, { currentOwner: () => 'm2/1' });
    await old.change(ref('m1/1'), parkingChanges.headOnTier('a', 1, '1', 0));
    expect(await next.stateOf(ref('m2/1'))).toMatchObject({ queue: ['a'] });
    await expect(old.change(ref('m1/1'), parkingChanges.follow('b', '2'))).rejects.toBeInstanceOf(ParkingFencedError);
    await next.change(ref('m2/1'), parkingChanges.follow('c', '3'));
    expect((await store.get('t', 0, 'k'))?.queue).toEqual(['a', 'c']);
  });

  it('a record of an earlier assignment of the same member is fenced once the member took the partition again', async () => {
    const store = new MemoryParkingStore();
    let epoch = 1;
    const parking = new KeyParking(store, { currentOwner: () => `m1/${epoch}` });
    await parking.change(ref('m1/1'), parkingChanges.headOnTier('a', 1, '1', 0));
    epoch = 2;
    parking.reset();
    await parking.stateOf(ref('m1/2'));
    await expect(parking.change(ref('m1/1'), parkingChanges.advance('a'))).rejects.toBeInstanceOf(ParkingFencedError);
    expect(await parking.change(ref('m1/2'), parkingChanges.advance('a'))).toBeUndefined();
  });

  it('a record revoked in flight never takes the partition back from its new owner', async () => {
    const store = new MemoryParkingStore();
    let epoch = 1;
    const old = new KeyParking(store, { currentOwner: () => `m0/${epoch}` });
    await old.change(ref('m0/1'), parkingChanges.headOnTier('a', 1, '1', 0));
    // Rebalance: the partition moves to m1; m0 joins again (epoch 2) without it, its record of epoch 1 still in flight.
    epoch = 2;
    old.reset();
    const next = new KeyParking(store, { currentOwner: () => 'm1/1' });
    expect(await next.stateOf(ref('m1/1'))).toMatchObject({ queue: ['a'] });
    await expect(old.change(ref('m0/1'), parkingChanges.follow('b', '2'))).rejects.toBeInstanceOf(ParkingFencedError);
    // The new owner is still the owner: its writes go through.
    expect(await next.change(ref('m1/1'), parkingChanges.advance('a'))).toBeUndefined();
  });

  it('reads a parked key again at each event: a release made by an operator is seen at once', async () => {
    const store = new MemoryParkingStore();
    const parking = new KeyParking(store);
    await parking.change(ref('m1/1'), parkingChanges.hold('a', 0));
    await parking.change(ref('m1/1'), (current) => current && { ...current, queue: ['b'] });
    expect((await parking.stateOf(ref('m1/1')))?.held).toBe(true);
    const held = (await store.get('t', 0, 'k'))!;
    expect(await store.update('t', 0, 'k', held, { ...held, held: false })).toBe('ok');
    expect((await parking.stateOf(ref('m1/1')))?.held).toBe(false);
  });

  it('puts an id back into the queue in source-offset order, and unparks a key with nothing queued and not held', async () => {
    const state: ParkedKey = { queue: ['a', 'c'], headTier: 2, held: false, parkedAt: 0, offsets: { a: '1', c: '9' } };
    expect(parkingChanges.follow('b', '5')(state)?.queue).toEqual(['a', 'b', 'c']);
    expect(parkingChanges.follow('z', '0')(state)?.queue).toEqual(['z', 'a', 'c']);
    expect(parkingChanges.follow('d', '10')(state)?.queue).toEqual(['a', 'c', 'd']);
    expect(parkingChanges.follow('x', '3')(undefined)).toBeUndefined();
    const store = new MemoryParkingStore();
    const parking = new KeyParking(store);
    await parking.change(ref('m1/1'), parkingChanges.headOnTier('a', 1, '1', 0));
    expect(await parking.change(ref('m1/1'), parkingChanges.advance('a'))).toBeUndefined();
    expect(await store.get('t', 0, 'k')).toBeUndefined();
  });
});
