/**
 * One step of a chain A -> B -> C in its own process, for crash tests (test/integration/consumers/emit-chain.test.ts).
 * STAGE=emit: consumes FROM_TOPIC and emits each event to TO_TOPIC through `context.emit` (Redis idempotency
 * store: a repeated event is dropped). STAGE=effect: consumes FROM_TOPIC and writes each event to EFFECTS_TABLE
 * through the PostgreSQL inbox. Settings come from the environment; SIGTERM stops it cleanly, SIGKILL does not.
 * TRANSACTIONAL=1 turns on `transactional` (the emits and the offsets in one Kafka transaction per shard);
 * COMMIT_INTERVAL_MS sets `commitIntervalMs` (200); HANDLER_DELAY_MS makes each handler wait that long first;
 * REPORT=1 prints a JSON line per handled record (`{"handled": "topic/partition/offset"}`) and per failed transaction.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import type { EventHandler } from '../../../consumers/options.ts';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { createKafkaClient } from '../../../core/kafka-client.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

/** The chain's one event type. */
export const chainStepSchema = JSON.stringify({
  type: 'record',
  name: 'ChainStep',
  namespace: 'orderly.test',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'long' },
  ],
});

export interface ChainStep {
  key: string;
  sequence: number;
}

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`chain-worker needs ${name} in its environment`);
  return value;
}

if (process.env.STAGE) {
  const [KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL, FROM_TOPIC, GROUP, MEMBER, STAGE] = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL', 'FROM_TOPIC', 'GROUP', 'MEMBER', 'STAGE'].map(setting) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const brokers = KAFKA_BROKERS.split(',');
  const registry = new SchemaRegistryClient({ url: SCHEMA_REGISTRY_URL });
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const closers: (() => Promise<unknown>)[] = [() => redis.quit()];
  let handler: EventHandler<ChainStep>;
  let producer: EventProducer | undefined;
  if (STAGE === 'emit') {
    const to = setting('TO_TOPIC');
    producer = new EventProducer({ kafka: createKafkaClient({ brokers, clientId: `chain-${MEMBER}-producer` }), registry, autoRegister: true });
    closers.unshift(() => producer!.close());
    const delayMs = Number(process.env.HANDLER_DELAY_MS ?? 0);
    handler = async (event, context) => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      await context.emit(to, event.value.key, { schema: chainStepSchema, value: { key: event.value.key, sequence: event.value.sequence } });
    };
  } else {
    const table = setting('EFFECTS_TABLE');
    const pool = new pg.Pool({ connectionString: setting('DATABASE_URL'), max: 6 });
    closers.push(() => pool.end());
    const inbox = new PostgresInbox({ pool, groupId: GROUP });
    handler = inbox.handler<ChainStep>(async (event, transaction) => {
      await transaction.query(`insert into ${table} (event_id, key, sequence, member) values ($1, $2, $3, $4)`, [event.eventId, event.value.key, event.value.sequence, MEMBER]);
    });
  }
  const consumer = new OrderedConsumer<ChainStep>({
    kafka: { brokers, clientId: `chain-${MEMBER}` },
    groupId: GROUP,
    topics: [FROM_TOPIC],
    decoder: new AvroCodec<ChainStep>({ source: registry }),
    handler,
    ...(producer ? { producer } : {}),
    concurrency: 32,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
    commitIntervalMs: Number(process.env.COMMIT_INTERVAL_MS ?? 200),
    transactional: process.env.TRANSACTIONAL === '1',
    leaseMs: 15_000,
    handlerTimeoutMs: 5_000,
    retryTiersMs: [],
    inPlaceRetries: 3,
    idempotencyStore: new RedisIdempotencyStore({ redis, groupId: GROUP }),
  });
  if (process.env.REPORT === '1') {
    consumer.events.on('consumer.record.handled', ({ topic, partition, offset }) => console.log(JSON.stringify({ handled: `${topic}/${partition}/${offset}` })));
    consumer.events.on('consumer.transaction.failed', (failure) => console.log(JSON.stringify({ transactionFailed: failure })));
  }
  process.on('SIGTERM', () => {
    void consumer
      .stop()
      .then(() => Promise.all(closers.map((close) => close())))
      .finally(() => process.exit(0));
  });
  await consumer.start();
  console.log('started');
}
