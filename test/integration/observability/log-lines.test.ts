/**
 * Every log line of a run is JSON; the lines of a handling outcome carry the fixed fields of docs/guarantees.md
 * (eventId, eventType, key, topic, partition, offset as a string, attempt, status, durationMs, err on a
 * failure); no payload and no secret given in the configuration (a PostgreSQL password in the connection
 * string, a SASL password in the Kafka options) appears in any line. The consumer's pino output is captured
 * through a destination stream, with no redaction of our own: what is asserted is what the consumer writes.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NonRetryableError } from '../../../core/errors.ts';
import { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { ensureTopicLayout } from '../../../consumers/retries/topic-layout.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId, testStack, uniqueName } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer, testRedis } from '../../support/consumer-harness.ts';

const fixedFields = ['eventId', 'eventType', 'key', 'topic', 'partition', 'offset', 'attempt', 'status', 'durationMs'] as const;

/**
 * Fields the consumer does not write yet on its outcome lines, as `<message>: <field>` (a ratchet: when the
 * consumer adds one, this list must shrink, so the test fails until it is updated). See docs/observability.md.
 */
const knownGaps: string[] = [];

function capture() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), raw };
}

describe('log lines', () => {
  it('are JSON with the fixed fields on every outcome, and carry no payload and no configured secret', async () => {
    const secret = `pw-${uniqueName('secret')}`;
    const payloadMarker = uniqueName('payload-marker');
    const topic = await createTestTopic({ partitions: 2, prefix: 'logs' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 1 });
    const events = sequencedEvents(40, 8).map((message, index) => ({
      ...message,
      headers: { ...message.headers, 'orderly-event-type': 'Sequenced' },
      value: index === 5 ? `not json ${payloadMarker}` : JSON.stringify({ ...JSON.parse(String(message.value)), note: payloadMarker }),
    }));
    await produce(topic, events);

    // The password rides in the connection string; the local PostgreSQL trusts local connections, so it connects.
    const url = new URL(testStack().settings.DATABASE_URL);
    url.password = secret;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
    onTestFinished(() => pool.end());
    const inbox = new PostgresInbox({ pool, groupId, table: 'orderly_inbox_log_test' });
    await inbox.createTable();

    const { logger, raw } = capture();
    let settled = 0;
    const consumer = startTestConsumer<{ key: string; sequence: number }>({
      groupId,
      topics: [topic],
      logger,
      decoder: jsonDecoder as never,
      inPlaceRetries: 1,
      retryBackoffMs: 10,
      retryTiersMs: [200],
      parkingStore: new RedisParkingStore({ redis: testRedis(), groupId }),
      handler: inbox.handler(async ({ value }, transaction) => {
        if (value.sequence === 3) throw new NonRetryableError(`refused sequence 3 of ${value.key}`);
        if (value.sequence === 4) throw new Error(`always fails: ${value.key}`);
        await transaction.query('select 1');
      }),
    });
    consumer.events.on('consumer.record.handled', () => settled++);
    consumer.events.on('consumer.record.dead-lettered', () => settled++);
    await consumer.start();
    await eventually(() => settled >= events.length, () => `${settled} of ${events.length} settled`, 90_000);
    await consumer.stop();

    // A member that cannot even connect (SASL against a plaintext listener) logs its failures: no password either.
    const saslConsumer = new OrderedConsumer({
      kafka: { brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId: 'log-test-sasl', sasl: { mechanism: 'plain', username: 'orderly', password: secret }, connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
      groupId: testGroupId(),
      topics: [topic],
      retryTiersMs: [],
      logger,
      handler: async () => undefined,
    });
    await expect(saslConsumer.start()).rejects.toThrow();
    await saslConsumer.stop().catch(() => undefined);

    const lines = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((line) => line.component === 'kafkajs' && /sasl|authentic|disconnect|connection/i.test(String(line.msg)))).toBe(true);
    for (const line of raw) {
      expect(line).not.toContain(secret);
      expect(line).not.toContain(payloadMarker);
    }

    const isOutcome = (status: unknown) => typeof status === 'string' && (status === 'dead-lettered' || status === 'fenced' || status.startsWith('retry-tier-'));
    const outcomes = lines.filter((line) => isOutcome(line.status));
    // 8 non-retryable (sequence 3); 8 sent to tier 1 then exhausted (sequence 4); 1 bad JSON: a line each.
    expect(outcomes.map((line) => `${line.status}/${line.reason}`).sort()).toEqual(
      [
        ...Array(1).fill('dead-lettered/decode-error'),
        ...Array(8).fill('dead-lettered/non-retryable'),
        ...Array(8).fill('dead-lettered/retries-exhausted'),
        ...Array(8).fill('retry-tier-1/undefined'),
      ].sort(),
    );
    const gaps = new Set<string>();
    for (const line of outcomes) {
      for (const field of fixedFields) if (line[field] === undefined) gaps.add(`${String(line.msg)}${line.reason === 'decode-error' ? ' (decode-error)' : ''}: ${field}`);
      expect(typeof line.offset).toBe('string');
      expect(typeof line.partition).toBe('number');
      expect(line.err).toMatchObject({ type: expect.any(String), message: expect.any(String) });
      expect(line.level).toBe(line.status === 'dead-lettered' ? 50 : 40);
    }
    const handledLines = lines.filter((line) => line.status === 'handled');
    if (handledLines.length === 0) gaps.add('handled: no debug line at all');
    for (const line of handledLines) for (const field of fixedFields) if (line[field] === undefined) gaps.add(`${String(line.msg)}: ${field}`);
    expect([...gaps].sort()).toEqual(knownGaps);
  });
});
