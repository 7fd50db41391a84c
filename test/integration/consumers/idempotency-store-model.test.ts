/**
 * RedisIdempotencyStore against the model's store (test/model/in-memory-stores.ts, whose semantics the
 * record-path model judges): random sequences of claims (one at a time, or several events in one script call),
 * completions (handled or dead-lettered), releases, lease expiries, `forgetDeadLettered` and `isSettled` on a
 * few events, tokens and payloads; every answer of the Redis store must be the model store's. The sequences
 * include the replay race (a replay asked for while the event's dead-lettering is in flight, its marker written
 * after) and its variants: a request left beside a success marker, a takeover, an expired lease.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { MemoryIdempotencyStore, StoreFaults } from '../../model/in-memory-stores.ts';
import { uniqueName } from '../../support/test-stack.ts';
import { testRedis } from '../../support/consumer-harness.ts';

const events = 2;
const tokens = ['a/1', 'b/2', 'c/3'];
const hashes = ['h1', 'h1', 'h2']; // mostly the same payload: a redelivery or a replay, sometimes a reused id

type Command =
  | { kind: 'claim'; event: number; token: number; hash: number; takeOver?: number }
  | { kind: 'claimBatch'; claims: { token: number; hash: number }[] }
  | { kind: 'complete'; event: number; token: number; hash: number; deadLettered: boolean }
  | { kind: 'completeBatch'; completions: { token: number; hash: number; deadLettered: boolean }[] }
  | { kind: 'release'; event: number; token: number }
  | { kind: 'expireLease'; event: number }
  | { kind: 'forget'; event: number }
  | { kind: 'isSettled'; event: number };

const event = fc.nat(events - 1);
const token = fc.nat(tokens.length - 1);
const hash = fc.nat(hashes.length - 1);
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('claim' as const), event, token, hash, takeOver: fc.option(token, { nil: undefined }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('claimBatch' as const), claims: fc.array(fc.record({ token, hash }), { minLength: events, maxLength: events }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('complete' as const), event, token, hash, deadLettered: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('completeBatch' as const), completions: fc.array(fc.record({ token, hash, deadLettered: fc.boolean() }), { minLength: events, maxLength: events }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), event, token }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('expireLease' as const), event }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('forget' as const), event }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('isSettled' as const), event }), weight: 1 },
);

describe('RedisIdempotencyStore against the model store', () => {
  it('answers every random sequence of claims, completions, releases, expiries and replays as the model store does', async () => {
    const redis = testRedis();
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const groupId = uniqueName('idem-model');
        const ids = Array.from({ length: events }, () => uniqueName('event'));
        const store = new RedisIdempotencyStore({ redis, groupId, doneTtlMs: 60_000 });
        const model = new MemoryIdempotencyStore(new StoreFaults());
        const both = async <T>(step: string, run: (target: RedisIdempotencyStore | MemoryIdempotencyStore) => Promise<T>) => {
          const [actual, expected] = [await run(store), await run(model)];
          expect(actual, step).toEqual(expected);
        };
        const claimOf = (eventIndex: number, tokenIndex: number, hashIndex: number, takeOver?: number) => ({
          eventId: ids[eventIndex]!,
          payloadHash: hashes[hashIndex]!,
          fencingToken: tokens[tokenIndex]!,
          leaseMs: 60_000,
          ...(takeOver === undefined ? {} : { takeOver: tokens[takeOver]! }),
        });
        // The answers compared leave out a busy claim's remaining lease (it counts down on each side's clock).
        const status = (result: Awaited<ReturnType<RedisIdempotencyStore['claim']>>) => (result.status === 'busy' ? { status: result.status, holder: result.holder } : result);
        for (const [index, step] of commands.entries()) {
          const name = `step ${index}: ${JSON.stringify(step)}`;
          switch (step.kind) {
            case 'claim':
              await both(name, async (target) => status(await target.claim(claimOf(step.event, step.token, step.hash, step.takeOver))));
              break;
            case 'claimBatch': // distinct events in one turn: one script call on Redis
              await both(name, async (target) => (await Promise.all(step.claims.map((claim, eventIndex) => target.claim(claimOf(eventIndex, claim.token, claim.hash))))).map(status));
              break;
            case 'complete':
              await both(name, (target) => target.complete(ids[step.event]!, tokens[step.token]!, hashes[step.hash]!, { deadLettered: step.deadLettered }));
              break;
            case 'completeBatch':
              await both(name, (target) => Promise.all(step.completions.map((completion, eventIndex) => target.complete(ids[eventIndex]!, tokens[completion.token]!, hashes[completion.hash]!, { deadLettered: completion.deadLettered }))));
              break;
            case 'release':
              await both(name, (target) => target.release(ids[step.event]!, tokens[step.token]!));
              break;
            case 'expireLease': {
              await redis.del(`orderly:${groupId}:claim:{${ids[step.event]!}}`);
              const claim = model.claims.get(ids[step.event]!);
              if (claim) claim.expiresAt = Date.now() - 1;
              break;
            }
            case 'forget':
              await both(name, (target) => target.forgetDeadLettered(ids[step.event]!));
              break;
            case 'isSettled':
              await both(name, (target) => target.isSettled(ids[step.event]!));
              break;
          }
        }
      }),
      { numRuns: Number(process.env.STORE_MODEL_RUNS ?? 300), seed: Number(process.env.STORE_MODEL_SEED ?? 19_2026) },
    );
  });

  it('the replay race, by hand: a replay asked for before the dlt: marker is not skipped, through a single claim or a batched one', async () => {
    const redis = testRedis();
    const groupId = uniqueName('idem-model');
    const store = new RedisIdempotencyStore({ redis, groupId });
    const ids = [uniqueName('event'), uniqueName('event')];
    // Both dead-letterings in flight: claimed, DLT records written, replays asked for, markers written after.
    await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: 'h', fencingToken: 'a/1', leaseMs: 60_000 })));
    for (const eventId of ids) expect(await store.forgetDeadLettered(eventId)).toBe(true);
    expect(await Promise.all(ids.map((eventId) => store.complete(eventId, 'a/1', 'h', { deadLettered: true })))).toEqual(['completed', 'completed']);
    // The first replayed copy is claimed alone, the second beside a fresh event in one call.
    expect(await store.claim({ eventId: ids[0]!, payloadHash: 'h', fencingToken: 'b/2', leaseMs: 60_000 })).toEqual({ status: 'claimed', token: 'b/2' });
    const fresh = uniqueName('event');
    const batched = await Promise.all([ids[1]!, fresh].map((eventId) => store.claim({ eventId, payloadHash: 'h', fencingToken: 'b/2', leaseMs: 60_000 })));
    expect(batched).toEqual([
      { status: 'claimed', token: 'b/2' },
      { status: 'claimed', token: 'b/2' },
    ]);
    // A request left beside a success marker (handled after the replay was asked) is never used: done for good.
    const handled = uniqueName('event');
    await store.claim({ eventId: handled, payloadHash: 'h', fencingToken: 'a/1', leaseMs: 60_000 });
    expect(await store.forgetDeadLettered(handled)).toBe(true);
    expect(await store.complete(handled, 'a/1', 'h')).toBe('completed');
    expect(await redis.exists(`orderly:${groupId}:replay:{${handled}}`)).toBe(1);
    expect(await store.claim({ eventId: handled, payloadHash: 'h', fencingToken: 'b/2', leaseMs: 60_000 })).toEqual({ status: 'done' });
    expect(await store.forgetDeadLettered(handled)).toBe(false);
    expect(await store.claim({ eventId: handled, payloadHash: 'h2', fencingToken: 'b/2', leaseMs: 60_000 })).toEqual({ status: 'conflict' });
  });
});
