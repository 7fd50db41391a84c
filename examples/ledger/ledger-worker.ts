/**
 * `orderly demo work`: one consumer-group member that applies ledger events to balances through the
 * transactional inbox (PostgreSQL or SQLite), with the retry ladder (tiers of 1 s and 5 s), durable key
 * parking and Redis idempotency claims; a poison event is dead-lettered and its successors go on
 * (`onDeadLetter: 'release'`). Run several to scale out; SIGTERM or SIGINT stops one cleanly.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.ts';
import { RedisIdempotencyStore } from '../../consumers/idempotency/redis-idempotency-store.ts';
import { OrderedConsumer } from '../../consumers/ordered-consumer.ts';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';
import { AvroCodec } from '../../schemas/avro-codec.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { demoDelayLevelsMs, demoRetryTiersMs, type DemoConnections, type DemoInboxMode } from './demo-options.ts';
import { readerSchemas } from './ledger-events.ts';
import { accountsLedgerEventTypes, type AccountsLedgerValue } from './ledger-event-types.ts';
import { openLedgerStore } from './open-ledger-store.ts';

/** How long a worker's `stop()` waits for handlers in flight, in ms; it ends within this plus a second or two. */
export const demoShutdownTimeoutMs = 5_000;

export interface LedgerWorkerOptions {
  topic: string;
  group: string;
  /** A name for this member, in its Kafka client id. */
  member: string;
  /**
   * Static group membership (the consumer's `groupInstanceId`): a worker started again with this id takes the
   * place and partitions of the one that had it, with no rebalance. @defaultValue none (a dynamic member)
   */
  groupInstanceId?: string;
  /** Handler calls in flight at once. @defaultValue 32 */
  concurrency?: number;
  /** See the consumer option of that name, in ms. @defaultValue 120000 */
  stuckPartitionMs?: number;
  /** A pino logger for the consumer. @defaultValue silent */
  logger?: Logger;
  /** How events are applied on PostgreSQL (see the demo option). @defaultValue `'batch'` */
  inbox?: DemoInboxMode;
  /** Called with the consumer before it starts (to instrument it, say: its first join is then counted). */
  beforeStart?: (consumer: OrderedConsumer<AccountsLedgerValue>) => void;
}

export interface RunningLedgerWorker {
  readonly consumer: OrderedConsumer<AccountsLedgerValue>;
  /** Stops handling, commits what is done, leaves the group and closes every connection. */
  stop(): Promise<void>;
}

export async function startLedgerWorker(connections: DemoConnections, options: LedgerWorkerOptions): Promise<RunningLedgerWorker> {
  const { topic, group } = options;
  const store = openLedgerStore(connections.database, topic, group, 10);
  await store.setup();
  const redis = new Redis(connections.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: null });
  const registry = new SchemaRegistryClient({ url: connections.schemaRegistryUrl });
  const consumer = new OrderedConsumer<AccountsLedgerValue>({
    kafka: { brokers: connections.kafkaBrokers.split(','), clientId: `ledger-worker-${options.member}` },
    groupId: group,
    topics: [topic],
    decoder: new AvroCodec<AccountsLedgerValue>({
      source: registry,
      readerSchemas,
      expectedSubjects: Object.values(accountsLedgerEventTypes).map((fullName) => `${topic}-${fullName}`),
    }),
    handler: store.applier(group, options.inbox ?? 'batch'),
    concurrency: options.concurrency ?? ((options.inbox ?? 'batch') === 'batch' ? 128 : 32),
    inPlaceRetries: 2,
    retryTiersMs: demoRetryTiersMs,
    delayLevelsMs: demoDelayLevelsMs,
    onDeadLetter: 'release',
    parkingStore: new RedisParkingStore({ redis, groupId: group }),
    idempotencyStore: new RedisIdempotencyStore({ redis, groupId: group }),
    // Short timings so a SIGKILLed member's partitions and claims move on within seconds. With an instance id,
    // a replacement that joins within the session timeout takes the dead member's place with no rebalance; one
    // slower than that joins after the rebalance, as without the id. A longer session was measured worse under
    // chaos on a loaded machine: replacements took 7-42 s to start, and a slot's partitions stayed dark until
    // one joined (see bench/RESULTS.md, "Static membership in the ledger demo").
    handlerTimeoutMs: 3_000,
    leaseMs: 8_000,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    shutdownTimeoutMs: demoShutdownTimeoutMs,
    commitIntervalMs: 500,
    ...(options.groupInstanceId === undefined ? {} : { groupInstanceId: options.groupInstanceId }),
    ...(options.stuckPartitionMs === undefined ? {} : { stuckPartitionMs: options.stuckPartitionMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  options.beforeStart?.(consumer);
  await consumer.start();
  return {
    consumer,
    async stop() {
      await consumer.stop();
      // Bounded too: the process is about to end, and a connection that does not answer must not hold it.
      const closing = Promise.allSettled([store.close(), redis.quit()]);
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}
