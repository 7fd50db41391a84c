/**
 * A consumer-group member in its own process, for crash tests: applies sequenced events to an effects table
 * through the PostgreSQL inbox. Settings come from the environment; SIGTERM stops it cleanly, SIGKILL does not.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`inbox-worker needs ${name} in its environment`);
  return value;
}
const [KAFKA_BROKERS, DATABASE_URL, REDIS_URL, TOPIC, GROUP, EFFECTS_TABLE, MEMBER] = [
  'KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL', 'TOPIC', 'GROUP', 'EFFECTS_TABLE', 'MEMBER',
].map(setting) as [string, string, string, string, string, string, string];
// A handler holds its connection for a few ms: 8 serve concurrency 50. Three members of 20 each, beside other
// test runs on the shared server, met PostgreSQL's max_connections (100) and hung the rebalance test.
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
const inbox = new PostgresInbox({ pool, groupId: GROUP });
// Optional ladder: RETRY_TIERS="300,600" and FAIL_EVERY=n (every n-th sequence of a key fails its first attempt).
const retryTiersMs = (process.env.RETRY_TIERS ?? '').split(',').filter(Boolean).map(Number);
const failEvery = Number(process.env.FAIL_EVERY ?? 0);
// Optional delay levels: DELAY_LEVELS="2000,6000"; the effects table then has due_ms and handled_ms columns.
const delayLevelsMs = (process.env.DELAY_LEVELS ?? '').split(',').filter(Boolean).map(Number);
const delayed = delayLevelsMs.length > 0;
// Optional static membership: GROUP_INSTANCE_ID (and SESSION_TIMEOUT_MS, how long the group keeps its place).
const groupInstanceId = process.env.GROUP_INSTANCE_ID || undefined;
const sessionTimeoutMs = Number(process.env.SESSION_TIMEOUT_MS || 6_000);

const consumer = new OrderedConsumer<{ key: string; sequence: number }>({
  kafka: { brokers: KAFKA_BROKERS.split(','), clientId: `worker-${MEMBER}` },
  groupId: GROUP,
  topics: [TOPIC],
  decoder: jsonDecoder as never,
  concurrency: 50,
  sessionTimeoutMs,
  heartbeatIntervalMs: 1_000,
  ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
  commitIntervalMs: 200,
  leaseMs: 15_000,
  handlerTimeoutMs: 5_000,
  idempotencyStore: new RedisIdempotencyStore({ redis, groupId: GROUP }),
  retryTiersMs,
  delayLevelsMs,
  inPlaceRetries: retryTiersMs.length > 0 ? 0 : 2,
  parkingStore: retryTiersMs.length > 0 || delayed ? new RedisParkingStore({ redis, groupId: GROUP }) : undefined,
  handler: inbox.handler(async (event, transaction, { attempt }) => {
    if (failEvery > 0 && event.value.sequence % failEvery === 0 && attempt === 1) throw new Error('fails its first attempt');
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (delayed) {
      const dueMs = Number(event.headers['orderly-deliver-at'] ?? 0);
      await transaction.query(`insert into ${EFFECTS_TABLE} (event_id, key, sequence, member, due_ms, handled_ms) values ($1, $2, $3, $4, $5, $6)`, [
        event.eventId,
        event.value.key,
        event.value.sequence,
        MEMBER,
        dueMs,
        Date.now(),
      ]);
      return;
    }
    await transaction.query(`insert into ${EFFECTS_TABLE} (event_id, key, sequence, member) values ($1, $2, $3, $4)`, [
      event.eventId,
      event.value.key,
      event.value.sequence,
      MEMBER,
    ]);
  }),
});

// REPORT_GROUP_EVENTS=1: one JSON line on stdout per group event and per claim wait, for the test to read.
if (process.env.REPORT_GROUP_EVENTS) {
  const report = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  consumer.events.on('consumer.group.rebalancing', () => report({ event: 'rebalancing' }));
  consumer.events.on('consumer.group.joined', ({ epoch, assignment }) => report({ event: 'joined', epoch, assignment }));
  consumer.events.on('consumer.claim.waiting', ({ topic, partition, offset, retryAfterMs, holder }) => report({ event: 'claim-waiting', topic, partition, offset, retryAfterMs, holder }));
}

process.on('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => Promise.all([pool.end(), redis.quit()]))
    .finally(() => process.exit(0));
});

await consumer.start();
console.log('started');
