/**
 * A source topic, its retry tier and DLT, and a group with lag, dead letters and a held parked key, on the real
 * stack, with a console serving them: what the console API and browser tests look at and change. Built without
 * a running consumer (records written to the DLT as a consumer writes them, committed offsets set by the admin
 * API, the parked key written to the parking store), so the tests stay fast on a loaded machine.
 */
import { Writable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createOutboxTables, outboxTableNames } from '../../../outbox/outbox-table.ts';
import { createKafkaClient, type Admin, type Kafka, type Message } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';
import { headerNames } from '../../../core/headers.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { startConsole, type RunningConsole } from '../../../console/console-server.ts';
import type { ConsoleOptions } from '../../../console/console-options.ts';
import { avroType } from '../../../schemas/avro-type.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { encodeWireFormat } from '../../../schemas/wire-format.ts';
import { claimMessage, stateMessage } from '../../../scheduling/schedule-records.ts';
import { createScheduleTopic } from '../../../scheduling/schedule-topic.ts';
import { testStack, uniqueName } from '../../support/test-stack.ts';

/** What a hostile producer could put in a record: each would run script if a page inserted it as markup. */
export const hostile = {
  key: '<script>window.__pwned = "key"</script>',
  headerName: '<img src=x onerror="window.__pwned=\'header\'">',
  headerValue: '"><svg onload="window.__pwned=\'value\'">',
  errorMessage: '</td><script>window.__pwned = "error"</script>',
  payload: { note: '</pre><script>window.__pwned = "payload"</script>' },
};

export interface ConsoleFixture {
  topic: string;
  group: string;
  dltTopic: string;
  kafka: Kafka;
  admin: Admin;
  redis: Redis;
  console: RunningConsole;
  /** Audit and warning lines the console logged (JSON). */
  logLines: string[];
  heldKey: string;
  avroSchemaId: number;
  /** A schedule topic of its own, holding the schedule `nightly-report`. */
  scheduleTopic: string;
  /** An outbox table of its own (3 pending rows, 1 failed, 1 sent), when the stack has PostgreSQL. */
  outboxTable: string | undefined;
  /** Event ids of the dead letters, by name. */
  close(): Promise<void>;
}

export function deadLetter(key: string, eventId: string, value: Buffer | string, partition: number, extra: Record<string, string> = {}, reason = 'non-retryable', errorType = 'NON_RETRYABLE', errorMessage = 'card declined'): Message {
  return {
    key,
    value,
    partition,
    headers: {
      [headerNames.eventId]: eventId,
      [headerNames.eventType]: 'PaymentRequested',
      [headerNames.reason]: reason,
      [headerNames.errorType]: errorType,
      [headerNames.errorMessage]: errorMessage,
      [headerNames.errorFingerprint]: `fp-${errorType.toLowerCase()}`,
      [headerNames.attempt]: '1',
      [headerNames.originalPartition]: String(partition),
      [headerNames.originalOffset]: '0',
      ...extra,
    },
  };
}

export async function startConsoleFixture(overrides: Partial<ConsoleOptions> = {}): Promise<ConsoleFixture> {
  const { settings } = testStack();
  const topic = uniqueName('console');
  const group = uniqueName('console-group');
  const dltTopic = deadLetterTopicOf(topic, group);
  const kafka = createKafkaClient({ brokers: settings.KAFKA_BROKERS.split(','), clientId: uniqueName('console-test') });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [topic, retryTopicOf(topic, group, 1), dltTopic].map((name) => ({ topic: name, numPartitions: 2 })) });

  const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL! });
  const schema = { type: 'record' as const, name: 'PaymentRequested', namespace: 'orderly.console.test', fields: [{ name: 'accountId', type: 'string' }, { name: 'amountCents', type: 'long' }] };
  const avroSchemaId = await registry.register(`${topic}-value`, JSON.stringify(schema));
  const avroValue = encodeWireFormat(avroSchemaId, avroType(schema).toBuffer({ accountId: 'acct-7', amountCents: 4200 }));
  const heldKey = 'account-held';
  const scheduleTopic = uniqueName('console-schedules');
  await createScheduleTopic(admin, scheduleTopic);

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // The source: 6 records, of which the group committed 2 per partition (lag 1 on each).
  await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4, 5].map((index) => ({ key: `k${index}`, value: '{}', partition: index % 2 })) });
  await producer.send({
    topic: dltTopic,
    acks: -1,
    messages: [
      deadLetter('account-1', 'pay#1', JSON.stringify({ accountId: 'account-1', amountCents: 100 }), 0),
      deadLetter('account-2', 'pay#2', JSON.stringify({ accountId: 'account-2', amountCents: 200 }), 1),
      deadLetter('account-3', 'pay#3', avroValue, 0, {}, 'decode-error', 'DECODE_ERROR', 'no reader for this schema'),
      deadLetter('account-4', 'pay#4', JSON.stringify({ accountId: 'account-4', amountCents: 400 }), 1, {}, 'retries-exhausted', 'TypeError', 'ledger unavailable'),
      deadLetter(heldKey, 'held#1', JSON.stringify({ accountId: heldKey, amountCents: 1 }), 0, {}, 'retries-exhausted', 'TimeoutError', 'bank did not answer'),
      deadLetter(hostile.key, 'hostile#1', JSON.stringify(hostile.payload), 1, { [hostile.headerName]: hostile.headerValue }, 'non-retryable', 'NON_RETRYABLE', hostile.errorMessage),
    ],
  });
  // A schedule as `orderly cron run` leaves it: its last slot and its leader's claim.
  const lastSlot = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
  const cron = { schedule: 'nightly-report', expression: '0 * * * * *', timezone: 'Europe/Berlin', topic: 'reports', instance: 'worker-1:4242' };
  await producer.send({ topic: scheduleTopic, acks: -1, messages: [claimMessage({ ...cron, nonce: 'n-1', claimedAt: lastSlot }), stateMessage({ ...cron, lastSlot, lastEventId: `nightly-report@${lastSlot}` })] });
  await producer.disconnect();
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '2' }] });

  const redis = new Redis(settings.REDIS_URL);
  // held#1 was dead-lettered under onDeadLetter: 'hold'; held#2 waits behind it.
  await new RedisParkingStore({ redis, groupId: group }).put(topic, 0, heldKey, { queue: ['held#1', 'held#2'], headTier: 1, held: true, parkedAt: Date.now() - 60_000 });

  let outboxTable: string | undefined;
  let pool: pg.Pool | undefined;
  if (settings.DATABASE_URL) {
    outboxTable = `console_outbox_${randomBytes(4).toString('hex')}`;
    pool = new pg.Pool({ connectionString: settings.DATABASE_URL, max: 1 });
    const client = await pool.connect();
    try {
      await createOutboxTables(client, outboxTable);
      for (const [state, reason] of [[0, null], [0, null], [0, null], [2, 'topic payments does not exist'], [1, null]] as const) {
        await client.query(
          `insert into ${outboxTable} (topic, key, key_hash, shard, event_id, event_type, occurred_at, payload, state, failed_reason) values ('payments', 'k', 1, 1, $1, 'PaymentRequested', now(), '\\x7b7d', $2, $3)`,
          [randomUUID(), state, reason],
        );
      }
    } finally {
      client.release();
    }
  }

  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const running = await startConsole({
    kafka: { brokers: settings.KAFKA_BROKERS.split(',') },
    redisUrl: settings.REDIS_URL,
    registryUrl: settings.SCHEMA_REGISTRY_URL!,
    groups: [group],
    port: 0,
    refreshMs: 1_000,
    scheduleTopic,
    ...(outboxTable ? { databaseUrl: settings.DATABASE_URL!, outboxTable } : {}),
    logger: createLogger({ level: 'info' }, sink),
    ...overrides,
  });

  return {
    topic,
    group,
    dltTopic,
    kafka,
    admin,
    redis,
    console: running,
    logLines,
    heldKey,
    avroSchemaId,
    scheduleTopic,
    outboxTable,
    async close() {
      await running.stop().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic, retryTopicOf(topic, group, 1), dltTopic, scheduleTopic] }).catch(() => undefined);
      await admin.deleteGroups([group]).catch(() => undefined);
      const keys = await redis.keys(`orderly:${group}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await fetch(`${settings.SCHEMA_REGISTRY_URL}/subjects/${encodeURIComponent(`${topic}-value`)}`, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${settings.SCHEMA_REGISTRY_URL}/subjects/${encodeURIComponent(`${topic}-value`)}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
      if (pool && outboxTable) {
        const names = outboxTableNames(outboxTable);
        await pool.query(`drop table if exists ${names.table}, ${names.shards}; drop function if exists ${names.notifyFunction}()`).catch(() => undefined);
        await pool.end();
      }
      await admin.disconnect();
      redis.disconnect();
    },
  };
}

/** `fetch` against the console with the bearer token (unless `token: null`). */
export async function call(fixture: ConsoleFixture, path: string, init: RequestInit & { token?: string | null; csrf?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? fixture.console.token}`);
  if (init.csrf) headers.set('x-csrf-token', init.csrf);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  return fetch(`${fixture.console.url}${path}`, { ...init, headers, body, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
}
