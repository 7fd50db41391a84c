/**
 * `/metrics` tells what happened: a run with a one-tier ladder, in-place retries, retries that succeed on the
 * tier, retries exhausted, non-retryable errors and bad JSON; the counters scraped over HTTP equal what the
 * broker holds (dead-lettered = records in the DLT, retried per tier = records forwarded to the tier topic,
 * both counted from admin offsets), and lag is 0 once drained. `/readyz` turns ready on joining the group.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { NonRetryableError } from '../../../core/errors.ts';
import type { Admin, Message } from '../../../core/kafka-client.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, ensureTopicLayout, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { LagMonitor } from '../../../observability/lag-monitor.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';
import { scrape, sumOf } from './prometheus-text.ts';

type Plan = 'ok' | 'fails-twice' | 'always-fails' | 'non-retryable' | 'bad-json';

/** The last event (sequence 4) of some keys fails; no key has an event after its failing one. */
function planOf(key: string, sequence: number): Plan {
  const index = Number(key.slice('key-'.length));
  if (sequence !== 4) return 'ok';
  if (index < 10) return 'fails-twice';
  if (index < 15) return 'always-fails';
  if (index < 18) return 'non-retryable';
  if (index < 20) return 'bad-json';
  return 'ok';
}

async function recordsIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { low, high }) => sum + Number(high) - Number(low), 0);
}

describe('metrics over HTTP', () => {
  it('counts what happened: handled, failed, retried per tier, dead-lettered by reason; lag 0 once drained', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'metrics' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    const tiersMs = [1_000];
    await ensureTopicLayout(admin, { topic, groupId, tierCount: tiersMs.length });
    const occurredAt = new Date().toISOString();
    const events: Message[] = sequencedEvents(200, 50).map((message) => {
      const { key, sequence } = JSON.parse(String(message.value)) as SequencedEvent;
      const headers = { ...message.headers, 'orderly-occurred-at': occurredAt, 'orderly-event-type': 'Sequenced' };
      return { ...message, headers, value: planOf(key, sequence) === 'bad-json' ? 'not json {' : message.value };
    });
    await produce(topic, events);

    const redis = testRedis();
    let handled = 0;
    let deadLettered = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      inPlaceRetries: 1,
      retryBackoffMs: 10,
      retryTiersMs: tiersMs,
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
      parkingStore: new RedisParkingStore({ redis, groupId }),
      handler: async ({ value }, { attempt }) => {
        const plan = planOf(value.key, value.sequence);
        if (plan === 'non-retryable') throw new NonRetryableError(`refused ${value.key}`);
        if (plan === 'always-fails' || (plan === 'fails-twice' && attempt <= 2)) throw new Error(`planned failure ${attempt}`);
        handled++;
      },
    });
    consumer.events.on('consumer.record.dead-lettered', () => deadLettered++);

    const metrics = new OrderlyMetrics({ processMetrics: false });
    const instrumentation = instrumentConsumer(consumer, { groupId, metrics });
    onTestFinished(() => instrumentation.detach());
    const kafka = { brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId: 'metrics-test-monitor' };
    const monitor = new LagMonitor({ kafka, groupId, topics: [topic], intervalMs: 500, retryTiersMs: tiersMs, metrics });
    onTestFinished(() => monitor.stop());
    const server = await startObservabilityServer({ port: 0, host: '127.0.0.1', metrics, readiness: [instrumentation, monitor] });
    onTestFinished(() => server.stop());
    const base = `http://127.0.0.1:${server.port}`;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const before = await fetch(`${base}/readyz`);
    expect(before.status).toBe(503);
    expect(((await before.json()) as { reasons: string[] }).reasons.join()).toContain('not joined yet');

    await consumer.start();
    await monitor.start();
    await eventually(() => handled + deadLettered >= 200, () => `${handled} handled + ${deadLettered} dead-lettered of 200`, 120_000);
    // Drained: every commit made (the counters of forwarded records settle on commit) and no lag anywhere.
    await eventually(
      () => {
        const report = monitor.latest();
        return report !== undefined && report.takenAtMs > Date.now() - 1_000 && report.partitions.every((p) => p.tier === 'dlt' || p.lag === 0);
      },
      () => JSON.stringify(monitor.latest()?.partitions.filter((p) => p.lag > 0)),
      60_000,
    );
    await monitor.poll();

    const samples = await scrape(`${base}/metrics`);
    const dltRecords = await recordsIn(admin, deadLetterTopicOf(topic, groupId));
    const tierRecords = await recordsIn(admin, retryTopicOf(topic, groupId, 1));
    const group = { group: groupId, topic };

    expect(handled).toBe(190);
    expect(dltRecords).toBe(10);
    expect(sumOf(samples, 'orderly_records_dead_lettered_total', group)).toBe(dltRecords);
    expect(sumOf(samples, 'orderly_records_dead_lettered_total', { ...group, reason: 'retries-exhausted' })).toBe(5);
    expect(sumOf(samples, 'orderly_records_dead_lettered_total', { ...group, reason: 'non-retryable' })).toBe(3);
    expect(sumOf(samples, 'orderly_records_dead_lettered_total', { ...group, reason: 'decode-error' })).toBe(2);

    expect(tierRecords).toBe(15);
    expect(sumOf(samples, 'orderly_records_retried_total', { ...group, tier: '1' })).toBe(tierRecords);
    expect(sumOf(samples, 'orderly_records_retried_total', group)).toBe(tierRecords);

    expect(sumOf(samples, 'orderly_records_handled_total', { ...group, tier: 'source' })).toBe(180);
    expect(sumOf(samples, 'orderly_records_handled_total', { ...group, tier: '1' })).toBe(10);
    expect(sumOf(samples, 'orderly_handler_duration_seconds_count', group)).toBe(190);
    // Source: 10 keys fail twice, 5 fail both attempts in place, 3 fail once (non-retryable). Tier 1: 5 × 2.
    // The consumer announces a tier record's failure under its original topic, so both count as tier "source"
    // until consumer.record.failed names the record's own topic (docs/observability.md, "Events the metrics need").
    expect(sumOf(samples, 'orderly_records_failed_total', group)).toBe(33 + 10);
    expect(sumOf(samples, 'orderly_records_consumed_total', group)).toBe(200 + tierRecords);

    const sourceAndTiers = samples.filter((sample) => sample.name === 'orderly_consumer_lag_records' && sample.labels.group === groupId);
    expect(sourceAndTiers.map((sample) => `${sample.labels.tier}/${sample.labels.partition}`).sort()).toEqual(['1/0', '1/1', '1/2', 'source/0', 'source/1', 'source/2']);
    expect(sourceAndTiers.every((sample) => sample.value === 0)).toBe(true);
    expect(sumOf(samples, 'orderly_dead_letter_records', group)).toBe(dltRecords);
    expect(sumOf(samples, 'orderly_partition_stuck', group)).toBe(0);
    expect(sumOf(samples, 'orderly_group_members', { group: groupId })).toBe(1);
    expect(sumOf(samples, 'orderly_group_joined', { group: groupId })).toBe(1);
    expect(sumOf(samples, 'orderly_handlers_in_flight', { group: groupId })).toBe(0);
    expect(sumOf(samples, 'orderly_parked_keys', { group: groupId })).toBe(0);
    expect(sumOf(samples, 'orderly_offset_commits_total', { group: groupId })).toBeGreaterThan(0);
    expect(sumOf(samples, 'orderly_commit_failures_total', { group: groupId })).toBe(0);

    // The oldest DLT record's age, found by binary search over the admin API, matches the records themselves.
    const deadLetters = await readAll(deadLetterTopicOf(topic, groupId), dltRecords);
    const oldestMs = Math.min(...deadLetters.map((message) => Number(message.timestamp)));
    const found = monitor.latest()!.deadLetters[0]!;
    expect(found.records).toBe(10);
    expect(Math.abs(found.oldestTimestampMs! - oldestMs)).toBeLessThanOrEqual(1_000);
    expect(sumOf(samples, 'orderly_dead_letter_oldest_age_seconds', group)).toBeGreaterThan(0);

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
  });
});
