/**
 * Delayed events (consumers/delays/, docs/scheduling.md) on the real broker and Redis: none reaches its handler
 * before its `orderly-deliver-at`, each key keeps its order whatever the delays of its events, a far-future event
 * waits on a delay level without holding its partition or other keys, a cancellation survives a restart, and a
 * member SIGKILLed while it holds delayed events loses none.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { ensureTopicLayout } from '../../../consumers/retries/topic-layout.ts';
import { RedisCancellationStore } from '../../../consumers/delays/cancellation-store.ts';
import { delayTierOf, delayTopicOf } from '../../../consumers/delays/delay-levels.ts';
import type { OrderedConsumerOptions } from '../../../consumers/options.ts';
import type { Message } from '../../../core/kafka-client.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka, testStack, uniqueName } from '../../support/test-stack.ts';
import { eventually, produce, readAll, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';
import { testRegistry } from '../schemas/registry-helpers.ts';

/** Short levels, so a test sees events go through them: held in memory within 2 s + 5 s, else on a level. */
const levelsMs = [2_000, 6_000];

interface Ledger {
  /** Handler calls per event id. */
  calls: Map<string, number>;
  /** Sequences per key, in the order the handler ran. */
  byKey: Map<string, number[]>;
  /** Handler start minus `orderly-deliver-at`, per delayed event. */
  overshootsMs: number[];
  /** Delayed events that came back from a delay level (their tier header names one). */
  fromLevel: number;
}

function ledger(): Ledger {
  return { calls: new Map(), byKey: new Map(), overshootsMs: [], fromLevel: 0 };
}

/** `count` events over `keys` keys with per-key sequences; `delayOf(index)` gives each one's delay (undefined: none). */
function delayedEvents(count: number, keys: number, baseMs: number, delayOf: (index: number) => number | undefined): (Message & { dueAt?: number })[] {
  const next = new Map<string, number>();
  return Array.from({ length: count }, (_, index) => {
    const key = `key-${index % keys}`;
    const sequence = (next.get(key) ?? 0) + 1;
    next.set(key, sequence);
    const delay = delayOf(index);
    const headers: Record<string, string> = { 'orderly-event-id': `${key}#${sequence}` };
    if (delay !== undefined) headers['orderly-deliver-at'] = String(baseMs + delay);
    return { key, value: JSON.stringify({ key, sequence }), headers, ...(delay === undefined ? {} : { dueAt: baseMs + delay }) };
  });
}

async function setUp(prefix: string, partitions = 2) {
  const topic = await createTestTopic({ partitions, prefix });
  const groupId = testGroupId();
  await ensureTopicLayout(await testAdmin(), { topic, groupId, tierCount: 0, delayLevelCount: levelsMs.length });
  return { topic, groupId, redis: testRedis() };
}

function member({ topic, groupId, redis }: Awaited<ReturnType<typeof setUp>>, record: Ledger, extra: Partial<OrderedConsumerOptions<SequencedEvent>> = {}) {
  return startTestConsumer<SequencedEvent>({
    groupId,
    topics: [topic],
    decoder: jsonDecoder as never,
    concurrency: 50,
    delayLevelsMs: levelsMs,
    idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
    parkingStore: new RedisParkingStore({ redis, groupId }),
    cancellationStore: new RedisCancellationStore({ redis, groupId }),
    handler: async ({ value, eventId, headers }) => {
      const deliverAt = headers['orderly-deliver-at'];
      if (deliverAt !== undefined) record.overshootsMs.push(Date.now() - Number(deliverAt));
      if (Number(headers['orderly-tier'] ?? 0) > 1000) record.fromLevel++;
      record.calls.set(eventId, (record.calls.get(eventId) ?? 0) + 1);
      record.byKey.set(value.key, [...(record.byKey.get(value.key) ?? []), value.sequence]);
    },
    ...extra,
  });
}

describe('delayed events', () => {
  it('hands none to the handler before its due time, and keeps each key in order across mixed delays', async () => {
    const context = await setUp('delayed-order');
    const keys = 40;
    const total = 400;
    // A third not delayed, a third held in memory (due within 4 s), a third on the delay levels (9 to 16 s).
    const events = delayedEvents(total, keys, Date.now() + 2_000, (index) => (index % 3 === 0 ? undefined : index % 3 === 1 ? (index * 37) % 4_000 : 7_000 + ((index * 53) % 7_000)));
    await produce(context.topic, events);
    const record = ledger();
    const consumer = member(context, record);
    await consumer.start();
    await eventually(() => record.calls.size >= total, () => `${record.calls.size} of ${total} handled`, 120_000);
    expect([...record.calls.values()].every((calls) => calls === 1)).toBe(true);
    const delayed = events.filter((event) => event.dueAt !== undefined).length;
    expect(record.overshootsMs).toHaveLength(delayed);
    expect(Math.min(...record.overshootsMs)).toBeGreaterThanOrEqual(0); // never early
    // A key's later event never overtakes an earlier one, even when it is due first.
    for (const [key, sequences] of record.byKey) expect(sequences, key).toEqual(Array.from({ length: total / keys }, (_, index) => index + 1));
    expect(record.fromLevel).toBeGreaterThan(0); // some went through a delay level
    const sorted = [...record.overshootsMs].sort((a, b) => a - b);
    console.log(`delayed: ${delayed} events, ${record.fromLevel} from a level, overshoot p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`);
  });

  it('a far-future event waits on a delay level: its key parks, other keys and the partition commits go on', async () => {
    const context = await setUp('delayed-far', 1);
    const hourAway = Date.now() + 3_600_000;
    const far: Message = { key: 'far', value: JSON.stringify({ key: 'far', sequence: 1 }), headers: { 'orderly-event-id': 'far#1', 'orderly-deliver-at': String(hourAway) } };
    const behind: Message = { key: 'far', value: JSON.stringify({ key: 'far', sequence: 2 }), headers: { 'orderly-event-id': 'far#2' } };
    const others = Array.from({ length: 100 }, (_, index): Message => ({ key: `k${index % 10}`, value: JSON.stringify({ key: `k${index % 10}`, sequence: Math.floor(index / 10) + 1 }), headers: { 'orderly-event-id': `k${index % 10}#${Math.floor(index / 10) + 1}` } }));
    await produce(context.topic, [far, behind, ...others]);
    const record = ledger();
    const consumer = member(context, record);
    await consumer.start();
    await eventually(() => record.calls.size >= 100, () => `${record.calls.size} of 100 other events handled`, 60_000);
    // The source partition is committed past all 102 records: the delayed one pins nothing.
    const admin = await testAdmin();
    let committed = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [offsets] = await admin.fetchOffsets({ groupId: context.groupId, topics: [context.topic] });
      committed = offsets!.partitions[0]!.offset;
      if (committed === '102') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(committed).toBe('102');
    expect(record.calls.has('far#1')).toBe(false);
    expect(record.calls.has('far#2')).toBe(false); // behind its key's delayed head, in order
    // The event waits on the highest level that fits, its key parked behind it; memory holds nothing of it.
    const parked = await new RedisParkingStore({ redis: context.redis, groupId: context.groupId }).get(context.topic, 0, 'far');
    expect(parked?.queue[0]).toBe('far#1');
    expect(parked?.headTier).toBe(delayTierOf(2));
    const onLevel = await readAll(delayTopicOf(context.topic, context.groupId, 2), 1, 30_000);
    expect(onLevel.map((message) => message.headers?.['orderly-event-id']?.toString())).toContain('far#1');
    expect(consumer.stats().heldRetries).toBe(0);
  });

  it('producer.cancel before the due time: the event is never handled, across a consumer restart', async () => {
    const context = await setUp('delayed-cancel', 1);
    const producer = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true, topic: context.topic });
    onTestFinished(() => producer.close());
    const schema = JSON.stringify({ type: 'record', name: 'Reminder', namespace: 'orderly.test', fields: [{ name: 'key', type: 'string' }, { name: 'sequence', type: 'int' }] });
    const published = await producer.publish({ key: 'order-1', schema, value: { key: 'order-1', sequence: 1 } }, { delayMs: 12_000 });
    const kept = await producer.publish({ key: 'order-2', schema, value: { key: 'order-2', sequence: 1 } }, { delayMs: 12_000 });
    const record = ledger();
    // Raw values (Avro): the handler records ids only.
    const handler = async ({ eventId, headers }: { eventId: string; headers: Record<string, string> }) => {
      record.overshootsMs.push(Date.now() - Number(headers['orderly-deliver-at']));
      record.calls.set(eventId, (record.calls.get(eventId) ?? 0) + 1);
    };
    const first = member(context, record, { decoder: undefined, handler: handler as never });
    await first.start();
    const parking = new RedisParkingStore({ redis: context.redis, groupId: context.groupId });
    // Both wait on a level (12 s is beyond the 7 s hold horizon).
    const waitParked = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if ((await parking.get(context.topic, 0, 'order-1')) && (await parking.get(context.topic, 0, 'order-2'))) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the delayed events never reached a delay level');
    };
    await waitParked();
    await producer.cancel({ eventId: published.eventId, key: 'order-1' });
    const cancellations = new RedisCancellationStore({ redis: context.redis, groupId: context.groupId });
    const recorded = Date.now() + 30_000;
    while (!(await cancellations.isCancelled(published.eventId))) {
      if (Date.now() > recorded) throw new Error('the cancellation was never recorded');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await first.stop();
    // A new member (a restart) finds the cancellation: the event comes due and is skipped; the other is handled.
    const second = member(context, record, { decoder: undefined, handler: handler as never });
    await second.start();
    await eventually(() => record.calls.has(kept.eventId), () => 'the uncancelled event handled', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(record.calls.has(published.eventId)).toBe(false);
    expect(Math.min(...record.overshootsMs)).toBeGreaterThanOrEqual(0);
    expect(await parking.get(context.topic, 0, 'order-1')).toBeUndefined(); // the key's queue moved past it
  });
});

describe('delayed events: ages, cancels and hostile headers', () => {
  it('maxEventAgeMs counts from the due time: a delayed event is not dead-lettered as expired when it comes due', async () => {
    const context = await setUp('delayed-age', 1);
    const dueAt = Date.now() + 4_000; // held in memory (within the 7 s hold horizon), older than the limit when due
    await produce(context.topic, [{ key: 'a', value: JSON.stringify({ key: 'a', sequence: 1 }), headers: { 'orderly-event-id': 'a#1', 'orderly-deliver-at': String(dueAt) } }]);
    const record = ledger();
    const deadLetters: string[] = [];
    const consumer = member(context, record, { maxEventAgeMs: 2_000 });
    consumer.events.on('consumer.record.dead-lettered', ({ reason }) => deadLetters.push(reason));
    await consumer.start();
    await eventually(() => record.calls.has('a#1') || deadLetters.length > 0, () => 'the delayed event handled or dead-lettered', 30_000);
    expect({ deadLetters, handled: record.calls.get('a#1') }).toEqual({ deadLetters: [], handled: 1 });
    expect(Math.min(...record.overshootsMs)).toBeGreaterThanOrEqual(0);
  });

  it('a cancelled head waiting on a delay level frees its key at its next check, not at its old due time', async () => {
    const context = await setUp('delayed-cancel-head', 1);
    const head: Message = { key: 'k', value: JSON.stringify({ key: 'k', sequence: 1 }), headers: { 'orderly-event-id': 'k#1', 'orderly-deliver-at': String(Date.now() + 120_000) } };
    const behind: Message = { key: 'k', value: JSON.stringify({ key: 'k', sequence: 2 }), headers: { 'orderly-event-id': 'k#2' } };
    await produce(context.topic, [head, behind]);
    const record = ledger();
    const consumer = member(context, record);
    await consumer.start();
    const parking = new RedisParkingStore({ redis: context.redis, groupId: context.groupId });
    const parkedBy = Date.now() + 30_000;
    while ((await parking.get(context.topic, 0, 'k'))?.queue.length !== 2) {
      if (Date.now() > parkedBy) throw new Error('the key never parked behind its delayed head with its successor');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await produce(context.topic, [{ key: 'k', value: null, headers: { 'orderly-cancels': 'k#1' } }]);
    // The levels check every 2 s and 6 s: the successor is the head, and handled, within a few checks.
    await eventually(() => record.calls.has('k#2'), () => 'the successor of the cancelled head handled', 40_000);
    expect(record.calls.has('k#1')).toBe(false);
    expect(await parking.get(context.topic, 0, 'k')).toBeUndefined();
  });

  it('a record with a payload and an orderly-cancels header is an event, handled, and cancels nothing', async () => {
    const context = await setUp('delayed-hostile-cancel', 1);
    const delayed: Message = { key: 'a', value: JSON.stringify({ key: 'a', sequence: 1 }), headers: { 'orderly-event-id': 'a#1', 'orderly-deliver-at': String(Date.now() + 3_000) } };
    const carrier: Message = { key: 'b', value: JSON.stringify({ key: 'b', sequence: 1 }), headers: { 'orderly-event-id': 'b#1', 'orderly-cancels': 'a#1' } };
    await produce(context.topic, [delayed, carrier]);
    const record = ledger();
    const consumer = member(context, record);
    await consumer.start();
    await eventually(() => record.calls.has('a#1') && record.calls.has('b#1'), () => `handled: ${[...record.calls.keys()].join(', ')}`, 30_000);
  });
});

describe('delayed events across a SIGKILLed member', () => {
  it('a member killed while it holds delayed events loses none, applies none early, and keeps each key in order', async () => {
    const topic = await createTestTopic({ partitions: 4, prefix: 'delayed-kill' });
    const groupId = testGroupId();
    await ensureTopicLayout(await testAdmin(), { topic, groupId, tierCount: 0, delayLevelCount: levelsMs.length });
    const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL });
    const table = uniqueName('delayed_effects').replaceAll('-', '_');
    await pool.query(`create table if not exists orderly_inbox (group_id text not null, event_id text not null, payload_hash text not null, handled_at timestamptz not null default now(), primary key (group_id, event_id))`).catch(() => undefined);
    await pool.query(`create table ${table} (applied bigserial primary key, event_id text not null, key text not null, sequence integer not null, member text not null, due_ms bigint not null, handled_ms bigint not null)`);
    onTestFinished(async () => {
      await pool.query(`drop table if exists ${table}`);
      await pool.end();
    });
    const total = 2_000;
    const keys = 100;
    // Due over 4 to 16 s from now: some held in memory, some on the levels, when the member dies.
    const events = delayedEvents(total, keys, Date.now() + 4_000, (index) => (index * 7919) % 12_000);
    await produce(topic, events);
    const start = (member: string): ChildProcess => {
      const child = spawn(process.execPath, ['test/support/workers/inbox-worker.ts'], {
        cwd: projectRoot,
        env: { ...process.env, ...testStack().settings, TOPIC: topic, GROUP: groupId, EFFECTS_TABLE: table, MEMBER: member, DELAY_LEVELS: levelsMs.join(',') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      onTestFinished(() => void child.kill('SIGKILL'));
      return child;
    };
    const count = async () => Number((await pool.query<{ count: string }>(`select count(*) from ${table}`)).rows[0]!.count);
    const waitFor = async (predicate: () => Promise<boolean>, what: string, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await predicate())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const first = start('first');
    await waitFor(async () => (await count()) >= 300, '300 effects from the first member');
    first.kill('SIGKILL');
    expect(await count()).toBeLessThan(total);
    start('second');
    await waitFor(async () => (await count()) >= total, `all ${total} effects`);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // a late duplicate would land now
    const { rows } = await pool.query<{ total: string; distinct_events: string; early: string }>(
      `select count(*) as total, count(distinct event_id) as distinct_events, count(*) filter (where handled_ms < due_ms) as early from ${table}`,
    );
    expect(Number(rows[0]!.distinct_events)).toBe(total);
    expect(Number(rows[0]!.total)).toBe(total);
    expect(Number(rows[0]!.early)).toBe(0);
    const { rows: disorder } = await pool.query(
      `select key from (select key, sequence, lag(sequence) over (partition by key order by applied) as previous from ${table}) ordered where previous is not null and sequence <> previous + 1`,
    );
    expect(disorder).toEqual([]);
  });
});
