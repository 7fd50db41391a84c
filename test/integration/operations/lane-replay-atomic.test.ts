/**
 * `orderly dlt replay` into a parked key's lane and `orderly keys release`, against a consumer writing the same
 * key at the same moment, on the real Redis (issue 15 item 5, issue 22 item 11): every write is one atomic
 * change of the state as it is, a replay leaves an intent a rerun finishes, and a second replay of a key while
 * one runs is refused. The producer records (or holds) what it is asked to send.
 */
import { describe, expect, it } from 'vitest';
import { DltRateLimiter } from '../../../operations/dlt-rate-limiter.ts';
import { DltReplayStore } from '../../../operations/dlt-replay-store.ts';
import { DltReplayer, planDltReplay } from '../../../operations/dlt-replayer.ts';
import { releaseParkedKey } from '../../../operations/parked-key-release.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import type { ParkedKey, ParkingStore } from '../../../consumers/retries/parking-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import type { Producer } from '../../../core/kafka-client.ts';
import { testRedis } from '../../support/consumer-harness.ts';
import { uniqueName } from '../../support/test-stack.ts';
import { dltRecord } from '../../unit/operations/dlt-record-fixtures.ts';

const sourceTopic = 'orders';

function setUp() {
  const redis = testRedis();
  const groupId = uniqueName('lane-replay');
  const parkingStore = new RedisParkingStore({ redis, groupId });
  return { redis, groupId, parkingStore, idempotencyStore: new RedisIdempotencyStore({ redis, groupId }), replayStore: new DltReplayStore({ redis, groupId }) };
}

/** A store whose first read of the key is followed, before the reader can write, by `racing` (a consumer's write). */
function racingStore(store: ParkingStore, racing: (state: ParkedKey) => ParkedKey): ParkingStore {
  let raced = false;
  return Object.assign(Object.create(store) as ParkingStore, {
    get: async (topic: string, partition: number, key: string) => {
      const read = await store.get(topic, partition, key);
      if (!raced && read) {
        raced = true;
        await store.put(topic, partition, key, racing(read));
      }
      return read;
    },
  });
}

function recordingProducer(sent: string[][], gate?: Promise<void>): Producer {
  return {
    send: async ({ messages }: { messages: { headers: Record<string, string> }[] }) => {
      await gate;
      sent.push(messages.map((message) => message.headers['orderly-event-id']!));
      return [];
    },
  } as unknown as Producer;
}

function replayer(stores: ReturnType<typeof setUp>, parkingStore: ParkingStore, producer: Producer, laneLockMs?: number): DltReplayer {
  return new DltReplayer({ producer, idempotencyStore: stores.idempotencyStore, parkingStore, replayStore: stores.replayStore, sourceTopic, groupId: stores.groupId, limiter: new DltRateLimiter({ ratePerSecond: Infinity }), laneLockMs });
}

const heldState: ParkedKey = { queue: ['s1', 's2'], headTier: 2, held: true, parkedAt: 1 };

function lanePlan(stores: ReturnType<typeof setUp>) {
  return planDltReplay([dltRecord(0, 1, { key: 'k', eventId: 'h' })], {
    sourceTopic,
    groupId: stores.groupId,
    maxReplays: 3,
    includeReplayed: false,
    replaysOf: () => 0,
    parkedStateOf: () => heldState,
  });
}

describe('lane replay and keys release are atomic against the consumer', () => {
  it('a lane replay racing the consumer keeps the consumer write (a successor dead-lettered meanwhile stays out of the queue)', async () => {
    const stores = setUp();
    await stores.parkingStore.put(sourceTopic, 0, 'k', heldState);
    // The consumer dead-letters s1 (predecessor-dead-lettered) between the replayer's read and its write.
    const store = racingStore(stores.parkingStore, (state) => ({ ...state, queue: state.queue.filter((id) => id !== 's1') }));
    const sent: string[][] = [];
    await replayer(stores, store, recordingProducer(sent)).replay(lanePlan(stores));
    expect(sent).toEqual([['h']]);
    const after = await stores.parkingStore.get(sourceTopic, 0, 'k');
    expect(after).toMatchObject({ queue: ['h', 's2'], held: false, headTier: 1 });
  });

  it('keys release racing the consumer keeps the consumer write', async () => {
    const stores = setUp();
    await stores.parkingStore.put(sourceTopic, 0, 'k', heldState);
    const store = racingStore(stores.parkingStore, (state) => ({ ...state, queue: state.queue.filter((id) => id !== 's1') }));
    const released = await releaseParkedKey(store, sourceTopic, 0, 'k');
    expect(released).toMatchObject({ status: 'released' });
    expect(await stores.parkingStore.get(sourceTopic, 0, 'k')).toMatchObject({ queue: ['s2'], held: false });
  });

  it('refuses a second replay of a key while one runs; a replay that crashed before producing is finished by a rerun', async () => {
    const stores = setUp();
    await stores.parkingStore.put(sourceTopic, 0, 'k', heldState);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const sent: string[][] = [];
    const first = replayer(stores, stores.parkingStore, recordingProducer(sent, gate)).replay(lanePlan(stores));
    // While the first is producing, a second replay of the same key is refused, and changes nothing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(replayer(stores, stores.parkingStore, recordingProducer(sent)).replay(lanePlan(stores))).rejects.toThrow(/being replayed/);
    open();
    await first;
    expect(sent).toEqual([['h']]);
    expect(await stores.parkingStore.get(sourceTopic, 0, 'k')).toMatchObject({ queue: ['h', 's1', 's2'], held: false });

    // A replay that dies between its parking write and its produce: the intent stays, visible.
    const crashed = new (class extends Error {})();
    const dying = { send: async () => Promise.reject(crashed) } as unknown as Producer;
    await stores.parkingStore.put(sourceTopic, 0, 'k', heldState);
    await expect(replayer(stores, stores.parkingStore, dying, 100).replay(lanePlan(stores))).rejects.toBe(crashed);
    expect(await stores.parkingStore.get(sourceTopic, 0, 'k')).toMatchObject({ queue: ['h', 's1', 's2'], replaying: ['h'] });
    // The rerun, once the dead replay's lock ran out, produces the record and confirms.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await replayer(stores, stores.parkingStore, recordingProducer(sent)).replay(lanePlan(stores));
    expect(sent).toEqual([['h'], ['h']]);
    const finished = await stores.parkingStore.get(sourceTopic, 0, 'k');
    expect(finished).toMatchObject({ queue: ['h', 's1', 's2'], held: false });
    expect(finished?.replaying).toBeUndefined();
    expect(finished?.replayLock).toBeUndefined();
  });
});
