/**
 * The retry ladder with key parking on the real broker and Redis: per-key order survives retries through the
 * tiers; `release` goes on after a dead-lettered head, `hold` sends its successors after it; no retry is
 * handled before it is due.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, ensureTopicLayout, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';

/** How often an event fails: a stable draw from its id, so every run of the test fails the same events. */
function failuresOf(eventId: string): number {
  const draw = createHash('sha256').update(eventId).digest().readUInt32BE(0) / 2 ** 32;
  if (draw < 0.005) return Infinity; // always
  if (draw < 0.015) return 3; // three times
  if (draw < 0.065) return 1; // once
  return 0;
}

async function runLadder(onDeadLetter: 'release' | 'hold') {
  const topic = await createTestTopic({ partitions: 4, prefix: `ladder-${onDeadLetter}` });
  const groupId = testGroupId();
  const admin = await testAdmin();
  const tiersMs = [200, 400, 800];
  await ensureTopicLayout(admin, { topic, groupId, tierCount: tiersMs.length });
  const events = sequencedEvents(5_000, 100);
  await produce(topic, events);
  const redis = testRedis();
  const handled = new Map<string, number[]>();
  const attemptsOf = new Map<string, number>();
  let completed = 0;
  let deadLettered = 0;
  const consumer = startTestConsumer<SequencedEvent>({
    groupId,
    topics: [topic],
    decoder: jsonDecoder as never,
    concurrency: 100,
    inPlaceRetries: 0,
    retryTiersMs: tiersMs,
    onDeadLetter,
    idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
    parkingStore: new RedisParkingStore({ redis, groupId }),
    handler: async ({ value, eventId }, { attempt }) => {
      attemptsOf.set(eventId, attempt);
      if (attempt <= failuresOf(eventId)) throw new Error(`planned failure ${attempt} of ${eventId}`);
      handled.set(value.key, [...(handled.get(value.key) ?? []), value.sequence]);
      completed++;
    },
  });
  consumer.events.on('consumer.record.dead-lettered', () => deadLettered++);
  await consumer.start();
  await eventually(() => completed + deadLettered >= events.length, () => `${completed} handled + ${deadLettered} dead-lettered of ${events.length}`, 120_000);
  const deadLetters = await readAll(deadLetterTopicOf(topic, groupId), deadLettered);
  return { topic, groupId, events, handled, deadLetters, attemptsOf, completed };
}

function planByKey(events: { key?: string | Buffer | null; headers?: Record<string, unknown> }[]) {
  const byKey = new Map<string, { sequence: number; eventId: string; failures: number }[]>();
  for (const event of events) {
    const eventId = String(event.headers!['orderly-event-id']);
    const [key, sequence] = eventId.split('#') as [string, string];
    byKey.set(key, [...(byKey.get(key) ?? []), { sequence: Number(sequence), eventId, failures: failuresOf(eventId) }]);
  }
  return byKey;
}

describe('retry ladder with key parking', () => {
  it("under 'release': each key is handled in production order minus its dead-lettered events; nothing is handled twice", async () => {
    const { events, handled, deadLetters, topic, groupId } = await runLadder('release');
    const plan = planByKey(events as never);
    const deadIds = new Set(deadLetters.map((message) => String(message.headers!['orderly-event-id'])));
    for (const [key, planned] of plan) {
      const expected = planned.filter((event) => event.failures !== Infinity).map((event) => event.sequence);
      const got = handled.get(key) ?? [];
      if (got.length !== expected.length) {
        const missing = planned.filter((event) => event.failures !== Infinity && !got.includes(event.sequence));
        console.log('missing events of', key, missing.map((event) => `${event.eventId} failures=${event.failures} dlt=${deadIds.has(event.eventId)}`), 'planned failing', planned.filter((event) => event.failures > 0).map((event) => `${event.sequence}:${event.failures}`).join(' '));
      }
      expect(handled.get(key) ?? [], key).toEqual(expected);
      for (const event of planned.filter((candidate) => candidate.failures === Infinity)) expect(deadIds.has(event.eventId)).toBe(true);
    }
    expect(new Set(deadLetters.map((message) => String(message.headers![forwardHeaders.reason])))).toEqual(new Set(['retries-exhausted']));
    expect(deadLetters.every((message) => String(message.headers![forwardHeaders.attempt]) === '4')).toBe(true);

    // Keys that never fail never leave the main flow.
    const failingKeys = new Set([...plan].filter(([, planned]) => planned.some((event) => event.failures > 0)).map(([key]) => key));
    const admin = await testAdmin();
    const tierOneSize = (await admin.fetchTopicOffsets(retryTopicOf(topic, groupId, 1))).reduce((total, partition) => total + Number(partition.high), 0);
    const tierOne = await readAll(retryTopicOf(topic, groupId, 1), tierOneSize);
    expect(tierOne.length).toBeGreaterThan(0);
    for (const message of tierOne) expect(failingKeys.has(message.key!.toString())).toBe(true);
  });

  it("under 'hold': nothing after a dead-lettered event of a key is handled; its successors follow it into the DLT", async () => {
    const { events, handled, deadLetters } = await runLadder('hold');
    const plan = planByKey(events as never);
    const reasonOf = new Map(deadLetters.map((message) => [String(message.headers!['orderly-event-id']), String(message.headers![forwardHeaders.reason])]));
    let heldKeys = 0;
    for (const [key, planned] of plan) {
      const firstDead = planned.findIndex((event) => event.failures === Infinity);
      const before = firstDead === -1 ? planned : planned.slice(0, firstDead);
      expect(handled.get(key) ?? [], key).toEqual(before.map((event) => event.sequence));
      if (firstDead === -1) continue;
      heldKeys++;
      expect(reasonOf.get(planned[firstDead]!.eventId)).toBe('retries-exhausted');
      for (const successor of planned.slice(firstDead + 1)) expect(reasonOf.get(successor.eventId), successor.eventId).toBe('predecessor-dead-lettered');
    }
    expect(heldKeys).toBeGreaterThan(0);
    expect(reasonOf.size).toBe(deadLetters.length); // each event dead-lettered once
  });

  it('never handles a retry before its due time on a 1 s tier, and records the overshoot', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'due' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 1 });
    await produce(topic, sequencedEvents(300, 300));
    const redis = testRedis();
    const overshootsMs: number[] = [];
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      concurrency: 100,
      inPlaceRetries: 0,
      retryTiersMs: [1_000],
      retryJitter: 0,
      parkingStore: new RedisParkingStore({ redis, groupId }),
      handler: async ({ headers }, { attempt }) => {
        if (attempt === 1) throw new Error('fails once');
        overshootsMs.push(Date.now() - Number(headers['orderly-due-at']));
      },
    });
    await consumer.start();
    await eventually(() => overshootsMs.length >= 300, () => `${overshootsMs.length} of 300 retries handled`);
    const sorted = [...overshootsMs].sort((a, b) => a - b);
    const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
    console.log(`1 s tier, 300 retries: overshoot p50 ${percentile(50)} ms, p99 ${percentile(99)} ms, max ${sorted.at(-1)} ms; earliest ${sorted[0]} ms`);
    expect(sorted[0]).toBeGreaterThanOrEqual(0); // none early
  });
});
