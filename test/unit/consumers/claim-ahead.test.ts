import { describe, expect, it } from 'vitest';
import { ClaimAhead } from '../../../consumers/idempotency/claim-ahead.ts';
import type { ClaimRequest, ClaimResult, IdempotencyStore } from '../../../consumers/idempotency/idempotency-store.ts';

/** A store that records every call and answers `claimed` unless told otherwise. */
function fakeStore(answer: (request: ClaimRequest) => ClaimResult = (request) => ({ status: 'claimed', token: request.fencingToken })) {
  const claims: ClaimRequest[] = [];
  const releases: { eventId: string; token: string }[] = [];
  const store: IdempotencyStore = {
    claim: async (request) => (claims.push(request), answer(request)),
    complete: async () => 'completed',
    forgetDeadLettered: async () => false,
    release: async (eventId, token) => void releases.push({ eventId, token }),
  };
  return { store, claims, releases };
}

type Record = { id: string };
const records = (count: number): Record[] => Array.from({ length: count }, (_, index) => ({ id: `e${index}` }));

function claimAhead(store: IdempotencyStore, window = 3, leaseMs = 60_000) {
  let n = 0;
  return new ClaimAhead<Record>({ store, leaseMs, window, eventOf: (record) => ({ eventId: record.id, payloadHash: `h-${record.id}` }), nextToken: (owner) => `${owner}/${++n}` });
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ClaimAhead', () => {
  it('claims offered records in fetch order up to the window, and tops up once half the window is used', async () => {
    const { store, claims } = fakeStore();
    const ahead = claimAhead(store, 4);
    const batch = records(7);
    for (const record of batch) ahead.offer(record);
    ahead.fill('m/1');
    expect(claims.map((claim) => claim.eventId)).toEqual(['e0', 'e1', 'e2', 'e3']);
    expect(ahead.size).toBe(4);
    const taken = ahead.take(batch[0]!)!;
    expect(taken.token).toBe('m/1/1');
    expect(await taken.result).toEqual({ status: 'claimed', token: 'm/1/1' });
    ahead.fill('m/1');
    expect(claims).toHaveLength(4); // 3 of 4 still wait: no call for one claim
    ahead.take(batch[1]!);
    ahead.fill('m/1');
    expect(claims.map((claim) => claim.eventId)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('never claims ahead a record that reached its claim step first (it claims on its own)', () => {
    const { store, claims } = fakeStore();
    const ahead = claimAhead(store, 1);
    const [first, second, third] = records(3);
    for (const record of [first!, second!, third!]) ahead.offer(record);
    ahead.fill('m/1'); // first
    expect(ahead.take(second!)).toBeUndefined(); // started before its turn
    expect(ahead.take(first!)).toBeDefined();
    ahead.fill('m/1');
    expect(claims.map((claim) => claim.eventId)).toEqual(['e0', 'e2']);
  });

  it('releases a claim never used: when its record settles without it, and every one at a reset', async () => {
    const { store, releases } = fakeStore();
    const ahead = claimAhead(store, 3);
    const batch = records(3);
    for (const record of batch) ahead.offer(record);
    ahead.fill('m/1');
    ahead.settled(batch[0]!); // went to the DLT before its claim step, say
    await settle();
    expect(releases).toEqual([{ eventId: 'e0', token: 'm/1/1' }]);
    ahead.reset();
    await settle();
    expect(releases.map((release) => release.eventId).sort()).toEqual(['e0', 'e1', 'e2']);
    expect(ahead.size).toBe(0);
    ahead.fill('m/2');
    expect(ahead.size).toBe(0); // nothing offered before the reset is claimed after it
  });

  it('releases a claim whose call failed (Redis may have taken it), never one answered busy', async () => {
    let call = 0;
    const { store, releases } = fakeStore(() => {
      call++;
      if (call === 1) throw new Error('reply lost');
      return { status: 'busy', retryAfterMs: 100 };
    });
    const ahead = claimAhead(store, 2);
    const batch = records(2);
    for (const record of batch) ahead.offer(record);
    ahead.fill('m/1');
    ahead.reset();
    await settle();
    expect(releases).toEqual([{ eventId: 'e0', token: 'm/1/1' }]);
  });

  it('remembers a claim dropped unused until its release is confirmed, so this instance takes it over when it meets the event again', async () => {
    let releaseWorks = false;
    const { store, claims } = fakeStore();
    store.release = async () => {
      if (!releaseWorks) throw new Error('connection lost');
    };
    const ahead = claimAhead(store, 2);
    const batch = records(2);
    for (const record of batch) ahead.offer(record);
    ahead.fill('m/1');
    ahead.reset(); // a restart of the Kafka client, say: the releases fail
    await settle();
    expect(ahead.droppedTokenOf('e0')).toBe('m/1/1');
    expect(ahead.droppedTokenOf('e1')).toBe('m/1/2');
    // Fetched again in the next generation: the claims ahead take over the dropped ones.
    const again = records(2);
    for (const record of again) ahead.offer(record);
    ahead.fill('m2/2');
    expect(claims.slice(2).map((claim) => [claim.eventId, claim.takeOver])).toEqual([
      ['e0', 'm/1/1'],
      ['e1', 'm/1/2'],
    ]);
    await settle();
    expect(ahead.droppedTokenOf('e0')).toBeUndefined(); // taken over
    // A release that is confirmed forgets the token too.
    releaseWorks = true;
    ahead.reset();
    await settle();
    expect(ahead.droppedTokenOf('e0')).toBeUndefined();
    expect(ahead.droppedTokenOf('e1')).toBeUndefined();
  });

  it('never offers a claim still waiting for its record as one to take over (a second copy of the event waits for the first)', () => {
    const { store } = fakeStore();
    const ahead = claimAhead(store, 2);
    const [first] = records(1);
    ahead.offer(first!);
    ahead.fill('m/1');
    expect(ahead.droppedTokenOf('e0')).toBeUndefined();
  });

  it('counts a claim fresh while its remaining lease covers what a started record needs, and the lease from the claim', () => {
    const { store } = fakeStore();
    const ahead = claimAhead(store, 1, 30_000);
    const [record] = records(1);
    ahead.offer(record!);
    ahead.fill('m/1');
    const claim = ahead.take(record!)!;
    expect(ahead.isFresh(claim, 20_000, claim.claimedAt + 5_000)).toBe(true);
    expect(ahead.isFresh(claim, 20_000, claim.claimedAt + 9_500)).toBe(false);
  });

  it('never claims a record that settled before its turn (forwarded behind a parked key without a claim step)', () => {
    const { store, claims } = fakeStore();
    const ahead = claimAhead(store, 1);
    const [first, second, third] = records(3);
    for (const record of [first!, second!, third!]) ahead.offer(record);
    ahead.fill('m/1'); // first
    ahead.settled(second!); // settled while still waiting its turn
    expect(ahead.take(first!)).toBeDefined();
    ahead.fill('m/1');
    expect(claims.map((claim) => claim.eventId)).toEqual(['e0', 'e2']);
  });
});
