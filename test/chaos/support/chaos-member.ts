/**
 * One consumer-group member in its own process, for the chaos scenarios: applies sequenced JSON events to an
 * effects table through the PostgreSQL inbox, recording where each came from (partition and offset) so the
 * commit audit can check every committed offset. Every second it prints one JSON line with its counters
 * (commits accepted and failed, records fenced, dead-lettered) on stdout; SIGTERM stops it cleanly.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { RetryableError } from '../../../core/errors.ts';
import { createLogger } from '../../../core/logger.ts';
import pino from 'pino';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`chaos-member needs ${name} in its environment`);
  return value;
}
const [KAFKA_BROKERS, DATABASE_URL, REDIS_URL, TOPIC, GROUP, EFFECTS_TABLE, MEMBER] = [
  'KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL', 'TOPIC', 'GROUP', 'EFFECTS_TABLE', 'MEMBER',
].map(setting) as [string, string, string, string, string, string, string];
const numberSetting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 20 });
pool.on('error', () => undefined);
// A Redis outage must not crash the member: commands wait (bounded queue) and fail, the consumer retries them.
const redis = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: 2, retryStrategy: () => 200 });
redis.on('error', () => undefined);
const inbox = new PostgresInbox({ pool, groupId: GROUP });
const handlerDelayMs = numberSetting('HANDLER_DELAY_MS', 1);
// RETRY_TIERS_MS=500,1000 turns the ladder (and key parking) on; FAIL_FIRST_ATTEMPT_EVERY=n fails the first attempt
// of every n-th event of a key, so its key parks behind it on the ladder.
const retryTiersMs = (process.env.RETRY_TIERS_MS ?? '').split(',').filter(Boolean).map(Number);
const failFirstAttemptEvery = numberSetting('FAIL_FIRST_ATTEMPT_EVERY', 0);
// KILL_AFTER_PARKING_WRITES=n: the member SIGKILLs itself right after its n-th parking write that a forward
// follows (the write acknowledged, the forward not sent): a crash between the two steps.
const killAfterParkingWrites = numberSetting('KILL_AFTER_PARKING_WRITES', 0);
const parkingStore = new RedisParkingStore({ redis, groupId: GROUP });
if (process.env.PARKING_TRACE) {
  const update = parkingStore.update.bind(parkingStore);
  parkingStore.update = async (topic, partition, key, expected, next, owner) => {
    const result = await update(topic, partition, key, expected, next, owner);
    process.stderr.write(`TRACE ${Date.now()} ${MEMBER} ${key} ${owner} ${expected?.version} [${expected?.queue.join(',') ?? '-'}] -> [${next?.queue.join(',') ?? '-'}] ${result}\n`);
    return result;
  };
}
if (killAfterParkingWrites > 0) {
  let writes = 0;
  const update = parkingStore.update.bind(parkingStore);
  parkingStore.update = async (topic, partition, key, expected, next, owner) => {
    const result = await update(topic, partition, key, expected, next, owner);
    // A write that leaves more queued than before is followed by a forward (to a tier, behind the head).
    if (result === 'ok' && owner && next && next.queue.length > (expected?.queue.length ?? 0) && ++writes >= killAfterParkingWrites) {
      count('selfKilledAfterParkingWrite');
      report();
      process.kill(process.pid, 'SIGKILL');
    }
    return result;
  };
}
// DECODER=avro: values are Avro (the registry at SCHEMA_REGISTRY_URL, ids expected under EXPECTED_SUBJECT, comma-separated).
const decoder =
  process.env.DECODER === 'avro'
    ? new AvroCodec({
        source: new SchemaRegistryClient({ url: setting('SCHEMA_REGISTRY_URL') }),
        expectedSubjects: setting('EXPECTED_SUBJECT').split(','),
        limits: { maxStringBytes: numberSetting('MAX_STRING_BYTES', 1024 * 1024) },
      })
    : jsonDecoder;

const consumer = new OrderedConsumer<{ key: string; sequence: number }>({
  kafka: { brokers: KAFKA_BROKERS.split(','), clientId: `chaos-${MEMBER}` },
  groupId: GROUP,
  topics: [TOPIC],
  decoder: decoder as never,
  concurrency: numberSetting('CONCURRENCY', 50),
  sessionTimeoutMs: numberSetting('SESSION_TIMEOUT_MS', 6_000),
  heartbeatIntervalMs: 1_000,
  commitIntervalMs: 200,
  leaseMs: numberSetting('LEASE_MS', 15_000),
  handlerTimeoutMs: numberSetting('HANDLER_TIMEOUT_MS', 5_000),
  shutdownTimeoutMs: 10_000,
  partitionHighWatermarkRecords: numberSetting('PARTITION_HIGH_WATERMARK', 1_000),
  partitionLowWatermarkRecords: numberSetting('PARTITION_LOW_WATERMARK', 500),
  maxEventLoopDelayMs: 0,
  idempotencyStore: new RedisIdempotencyStore({ redis, groupId: GROUP }),
  parkingStore,
  retryTiersMs,
  // MEMBER_LOG_DIR=<dir>: each member logs (info and up, or MEMBER_LOG_LEVEL: debug adds kafkajs's own debug
  // lines) to <dir>/<member>.log, to see why a run failed.
  logger: process.env.MEMBER_LOG_DIR
    ? createLogger({ level: process.env.MEMBER_LOG_LEVEL ?? 'info' }, pino.destination(`${process.env.MEMBER_LOG_DIR}/${MEMBER}.log`))
    : undefined,
  inPlaceRetries: numberSetting('IN_PLACE_RETRIES', 2),
  handler: inbox.handler(async (event, transaction, { attempt }) => {
    if (handlerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, handlerDelayMs));
    if (process.env.PARKING_TRACE) process.stderr.write(`TRACE ${Date.now()} ${MEMBER} handle ${event.eventId} attempt ${attempt} ${event.topic}\n`);
    if (failFirstAttemptEvery > 0 && attempt === 1 && event.value.sequence % failFirstAttemptEvery === 0) throw new RetryableError('first attempt fails (FAIL_FIRST_ATTEMPT_EVERY)');
    await transaction.query(
      `insert into ${EFFECTS_TABLE} (event_id, key, sequence, source_partition, source_offset, member) values ($1, $2, $3, $4, $5, $6)`,
      [event.eventId, event.value.key, event.value.sequence, event.partition, event.offset, MEMBER],
    );
  }),
});

const counters: Record<string, number> = {};
const count = (name: string) => (counters[name] = (counters[name] ?? 0) + 1);
consumer.events.on('consumer.offsets.committed', () => count('commitsAccepted'));
consumer.events.on('consumer.commit.failed', ({ errorType }) => count(`commitFailed:${errorType}`));
consumer.events.on('consumer.record.fenced', () => count('fenced'));
consumer.events.on('consumer.handler.timed-out', () => count('handlerTimedOut'));
consumer.events.on('consumer.record.abandoned', ({ reason }) => count(reason === 'rebalanced' ? 'abandoned' : `abandoned:${reason}`));
consumer.events.on('consumer.forward.failed', () => count('forwardFailed'));
consumer.events.on('consumer.record.dead-lettered', ({ reason }) => count(`deadLettered:${reason}`));
consumer.events.on('consumer.record.skipped-duplicate', () => count('skippedDuplicate'));
consumer.events.on('consumer.partition.paused', () => count('paused'));
consumer.events.on('consumer.group.joined', () => count('joined'));
let heapUsedMaxMb = 0;
const report = () => {
  heapUsedMaxMb = Math.max(heapUsedMaxMb, Math.round(process.memoryUsage().heapUsed / 2 ** 20));
  // Bad input must never reach Object.prototype (a `__proto__` map key or header name).
  const prototypeTouched = Object.getOwnPropertyNames(Object.prototype).length !== prototypeNames || Object.getPrototypeOf({}) !== Object.prototype;
  process.stdout.write(`${JSON.stringify({ member: MEMBER, counters, heapUsedMaxMb, prototypeTouched })}\n`);
};
const prototypeNames = Object.getOwnPropertyNames(Object.prototype).length;
setInterval(report, 1_000).unref();

process.on('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => report())
    .then(() => Promise.all([pool.end(), redis.quit()]))
    .finally(() => process.exit(0));
});

await consumer.start();
process.stdout.write(`${JSON.stringify({ member: MEMBER, started: true })}\n`);
