/**
 * One member of the delayed-delivery bench in its own process (so the bench can SIGKILL it): handles every
 * event with a 1 ms handler and records the first time each delayed event reached its handler in a Redis hash
 * (`RESULTS`: event id -> handler start, epoch ms; HSETNX, so a redelivery keeps the first). Settings from the
 * environment; SIGTERM stops it cleanly.
 */
import { Redis } from 'ioredis';
import { OrderedConsumer } from '../../consumers/ordered-consumer.ts';
import { RedisIdempotencyStore } from '../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`delayed-worker needs ${name}`);
  return value;
};
const [brokers, redisUrl, topic, groupId, results, member] = ['KAFKA_BROKERS', 'REDIS_URL', 'TOPIC', 'GROUP', 'RESULTS', 'MEMBER'].map(env) as [string, string, string, string, string, string];
const delayLevelsMs = env('DELAY_LEVELS').split(',').map(Number);
const redis = new Redis(redisUrl, { enableAutoPipelining: true });

const consumer = new OrderedConsumer({
  kafka: { brokers: brokers.split(','), clientId: `bench-delayed-${member}` },
  groupId,
  topics: [topic],
  concurrency: 100,
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 1_000,
  commitIntervalMs: 500,
  retryTiersMs: [],
  delayLevelsMs,
  idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
  parkingStore: new RedisParkingStore({ redis, groupId }),
  handler: async ({ eventId, headers }) => {
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (headers['orderly-deliver-at'] !== undefined) await redis.hsetnx(results, eventId, String(startedAt));
  },
});
process.on('SIGTERM', () => void consumer.stop().finally(() => process.exit(0)));
await consumer.start();
console.log(`${member} started`);
