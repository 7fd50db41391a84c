/**
 * orders-api, the first service of the orders example. It owns the `orders` table and:
 *
 * - serves `POST /orders` and `GET /orders/:id` on 127.0.0.1 (./orders-http.ts): an order and its OrderPlaced
 *   event are written in one transaction, the event into the outbox table `orders_outbox`;
 * - runs an `OutboxRelay` that publishes the committed events to the orders topic (woken by LISTEN/NOTIFY at
 *   each commit, polling as the fallback);
 * - consumes OrderConfirmed (what order-confirmer answers) and marks the order confirmed. That update is
 *   idempotent by itself (a state change from `placed`), so a redelivered event changes nothing: no inbox needed.
 *
 * Run by ./start.ts (`npm run example:orders`); settings from the environment (./settings.ts). SIGTERM stops it.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  AvroCodec,
  createKafkaClient,
  createLogger,
  createOutboxTables,
  EventProducer,
  OrderedConsumer,
  OutboxRelay,
  OutboxWriter,
  RedisParkingStore,
  route,
  SchemaRegistryClient,
} from '../../index.ts'; // in your service: from 'orderly'
import type { OrderConfirmationsEvents, OrderConfirmationsValue } from './order-event-types.ts';
import { ordersHttp } from './orders-http.ts';
import { ordersSettings, schemaText, subjectNameStrategy } from './settings.ts';

const settings = ordersSettings();
const groupId = settings.apiGroup;
const outboxTable = 'orders_outbox';
const logger = createLogger({ level: settings.logLevel, base: { service: 'orders-api' } });

const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: 10 });
const registry = new SchemaRegistryClient({ url: settings.schemaRegistryUrl });
const kafka = createKafkaClient({ brokers: settings.kafkaBrokers, clientId: 'orders-api' }, logger);
const redis = new Redis(settings.redisUrl);

await pool.query(`create table if not exists orders (
  id uuid primary key,
  customer_id text not null,
  lines jsonb not null,
  total_cents bigint not null,
  status text not null default 'placed',
  placed_at timestamptz not null,
  confirmed_at timestamptz)`);
const client = await pool.connect();
await createOutboxTables(client, outboxTable).finally(() => client.release());

// The writer encodes each event and checks it against the registry inside the request's transaction; the
// schemas are registered ahead (start.ts does it), so a schema nobody registered fails the request.
const outbox = new OutboxWriter({ registry, table: outboxTable, subjectNameStrategy });
const producer = new EventProducer({ kafka, registry, subjectNameStrategy, logger });
const relay = new OutboxRelay({ pool, producer, kafka, table: outboxTable, listenConnectionString: settings.databaseUrl, logger });

const confirmations = new OrderedConsumer<OrderConfirmationsValue>({
  kafka: { brokers: settings.kafkaBrokers, clientId: 'orders-api-confirmations' },
  groupId,
  topics: [settings.confirmationsTopic],
  decoder: new AvroCodec<OrderConfirmationsValue>({ source: registry, readerSchemas: [schemaText('OrderConfirmed.avsc')] }),
  parkingStore: new RedisParkingStore({ redis, groupId }),
  logger,
  handler: route<OrderConfirmationsEvents>({
    OrderConfirmed: async (event) => {
      await pool.query(`update orders set status = 'confirmed', confirmed_at = now() where id = $1 and status = 'placed'`, [event.value.orderId]);
    },
  }),
});

const http = ordersHttp({ pool, outbox, ordersTopic: settings.ordersTopic, apiToken: settings.apiToken });

await relay.start();
await confirmations.start();
const address = await http.listen({ host: '127.0.0.1', port: settings.port });
console.log(`orders-api listening on ${address}`);

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await http.close(); // no new orders; requests in flight finish
    await Promise.all([relay.stop(), confirmations.stop()]);
    await producer.close();
    await Promise.all([pool.end(), redis.quit()]);
  })();
  return stopping;
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`orders-api: stopping failed: ${error.message}`);
        process.exit(1);
      },
    );
  });
}
