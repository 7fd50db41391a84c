/**
 * Who owns a claim taken ahead (consumers/idempotency/claim-ahead.ts), against real Redis, with the record
 * processor alone (no broker): a claim this consumer took ahead is its own after a restart of its Kafka client
 * or a lost reply, and is never waited out; a claim another holder left (a dead member) is waited for loudly
 * (a warning once per key, an event for the metric) and only until its lease ends; and no more claims wait
 * ahead than there are handler slots, which bounds what a crash leaves leased.
 */
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { consumedRecordOf, type ConsumedRecord } from '../../../consumers/consumed-record.ts';
import type { RecordForwarder } from '../../../consumers/dead-letter/dead-letter-publisher.ts';
import { ConsumerEventEmitter, type ConsumerEvents } from '../../../consumers/events.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { validateOrderedConsumerOptions, type OrderedConsumerOptions } from '../../../consumers/options.ts';
import { RecordProcessor, type RecordLiveness, type RecordOutcome, type RecordSink } from '../../../consumers/record-processor.ts';
import type { KafkaMessage } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';
import { testRedis } from '../../support/consumer-harness.ts';
import { testGroupId } from '../../support/test-stack.ts';

const noForwards: RecordForwarder = { forward: async () => Promise.reject(new Error('no forward expected')) };

/** A Redis client whose script calls can be made to fail after Redis ran them (`lose`) or before (`refuse`). */
function faultyRedis(redis: Redis) {
  const faults = { lose: new Set<string>(), refuse: new Set<string>(), calls: new Map<string, number>() };
  const client = new Proxy(redis, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string' || !property.startsWith('orderly')) return value;
      return async (...args: unknown[]) => {
        faults.calls.set(property, (faults.calls.get(property) ?? 0) + 1);
        if (faults.refuse.has(property)) throw new Error(`connection lost before ${property}`);
        const reply = await (value as (...args: unknown[]) => Promise<unknown>).apply(target, args);
        if (faults.lose.has(property)) throw new Error(`reply of ${property} lost`);
        return reply;
      };
    },
  });
  return { client, faults };
}

function setup(redis: Redis, groupId: string, overrides: Partial<OrderedConsumerOptions<unknown>> = {}) {
  const events = new ConsumerEventEmitter();
  const lines: string[] = [];
  const logger = createLogger({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
  const handled: string[] = [];
  const options = validateOrderedConsumerOptions<unknown>({
    kafka: { brokers: ['127.0.0.1:9'] },
    groupId,
    topics: ['orders'],
    retryTiersMs: [],
    inPlaceRetries: 0,
    concurrency: 4,
    handlerTimeoutMs: 5_000,
    // A lease far longer than the test: a claim waited out fails it.
    leaseMs: 600_000,
    idempotencyStore: new RedisIdempotencyStore({ redis, groupId, doneTtlMs: 600_000 }),
    handler: async (event: { eventId: string }) => void handled.push(event.eventId),
    ...overrides,
  } as OrderedConsumerOptions<unknown>);
  const processor = new RecordProcessor(options, { forwarder: noForwards, events, logger, fencingToken: () => 'unused', parking: undefined, tierOf: () => undefined });
  return { processor, events, lines, handled };
}

function liveness(epoch: number, owner: string): RecordLiveness {
  return { epoch, owner, isCurrent: () => true, signal: new AbortController().signal };
}

function record(offset: number, key = `k${offset}`): ConsumedRecord {
  const message = { offset: String(offset), key: Buffer.from(key), value: Buffer.from('{}'), timestamp: String(Date.now()), attributes: 0, headers: { 'orderly-event-id': `e-${offset}` }, size: 0 } as unknown as KafkaMessage;
  return consumedRecordOf(message, 'orders', 'orders', 0, 'orders\u00000');
}

/** Starts the record as the consumer does and resolves with its outcome, or rejects after `withinMs`. */
function run(processor: RecordProcessor<unknown>, consumed: ConsumedRecord, live: RecordLiveness, withinMs = 8_000): Promise<RecordOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`record ${consumed.offset} not settled within ${withinMs} ms (a claim waited out?)`)), withinMs);
    const sink: RecordSink = {
      settled: (_record, _live, outcome) => (clearTimeout(timer), resolve(outcome)),
      failed: (_record, _live, error) => (clearTimeout(timer), reject(error as Error)),
    };
    processor.start(consumed, live, sink);
  });
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('claims taken ahead are owned by this consumer', () => {
  it('(a) a claim ahead left by an earlier generation (the Kafka client restarted, its release lost) is this consumer’s own: the record fetched again is handled at once', async () => {
    const groupId = testGroupId();
    const { client, faults } = faultyRedis(testRedis());
    const { processor, handled } = setup(client, groupId);
    const before = liveness(1, 'member-a/1');
    const queued = [record(0), record(1), record(2)];
    for (const consumed of queued) processor.offer(consumed);
    processor.claimAhead(before);
    await turn(); // the claims are in Redis
    // The client crashes: the queued records are dropped, and the release of their claims never reaches Redis.
    faults.refuse.add('orderlyRelease');
    processor.dropClaimsAhead();
    await turn();
    // The client restarts with a new member id; the same records are fetched again.
    const after = liveness(2, 'member-b/2');
    const again = [record(0), record(1), record(2)];
    for (const consumed of again) processor.offer(consumed);
    processor.claimAhead(after);
    const outcomes = await Promise.all(again.map((consumed) => run(processor, consumed, after)));
    expect(outcomes).toEqual(['handled', 'handled', 'handled']);
    expect(handled).toEqual(['e-0', 'e-1', 'e-2']);
  });

  it('(b) a claim ahead whose reply was lost is claimed again with its own token, not waited out', async () => {
    const groupId = testGroupId();
    const { client, faults } = faultyRedis(testRedis());
    const { processor, handled } = setup(client, groupId);
    const live = liveness(1, 'member-a/1');
    const alone = record(7);
    faults.lose.add('orderlyClaim'); // a single claim: Redis takes it, the reply never arrives
    processor.offer(alone);
    processor.claimAhead(live);
    await turn();
    faults.lose.clear();
    expect(await run(processor, alone, live)).toBe('handled');
    expect(handled).toEqual(['e-7']);
  });

  it('(b) a batch of claims ahead whose call failed after Redis ran it is not waited out either', async () => {
    const groupId = testGroupId();
    const { client, faults } = faultyRedis(testRedis());
    const { processor, handled } = setup(client, groupId);
    const live = liveness(1, 'member-a/1');
    const batch = [record(10), record(11), record(12)];
    faults.lose.add('orderlyClaimMany');
    faults.lose.add('orderlyClaim');
    for (const consumed of batch) processor.offer(consumed);
    processor.claimAhead(live);
    await turn();
    faults.lose.clear();
    expect(await Promise.all(batch.map((consumed) => run(processor, consumed, live)))).toEqual(['handled', 'handled', 'handled']);
    expect(handled).toEqual(['e-10', 'e-11', 'e-12']);
  });
});

describe('claims held by another holder (a dead member)', () => {
  it('(c) are waited for loudly (a warning once per key, a consumer.claim.waiting event) and only until the lease ends', async () => {
    const groupId = testGroupId();
    const redis = testRedis();
    // A member that died holding the claim of e-20 with 2 s of lease left.
    await redis.set(`orderly:${groupId}:claim:{e-20}`, 'dead-member/3/17', 'PX', 2_000);
    const { processor, events, lines, handled } = setup(redis, groupId);
    const waits: ConsumerEvents['consumer.claim.waiting'][0][] = [];
    events.on('consumer.claim.waiting', (wait) => waits.push(wait));
    const live = liveness(1, 'member-a/1');
    const consumed = record(20, 'account-9');
    processor.offer(consumed);
    processor.claimAhead(live);
    const startedAt = Date.now();
    expect(await run(processor, consumed, live, 10_000)).toBe('handled');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_500);
    expect(handled).toEqual(['e-20']);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ topic: 'orders', partition: 0, offset: '20', holder: 'dead-member/3/17' });
    expect(waits[0]!.retryAfterMs).toBeGreaterThan(0);
    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string; key?: string; holder?: string }).filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ key: 'account-9', holder: 'dead-member/3/17' });
    expect(warnings[0]!.msg).toMatch(/another holder/);
  });

  it('(c) no more claims wait ahead than the handler slots (at least 16), so a member that dies leaves few leases', async () => {
    const groupId = testGroupId();
    const redis = testRedis();
    const { processor } = setup(redis, groupId, { concurrency: 20 });
    const live = liveness(1, 'member-a/1');
    for (let offset = 100; offset < 400; offset++) processor.offer(record(offset));
    processor.claimAhead(live);
    await turn();
    expect(processor.claimsAhead().held).toBe(20);
    expect((await redis.keys(`orderly:${groupId}:claim:*`)).length).toBe(20);
    processor.dropClaimsAhead();
  });
});
