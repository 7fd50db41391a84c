/**
 * order-confirmer, the second service of the orders example. It consumes the orders topic with the typed
 * router (`route<OrdersEvents>`: the cases are checked by the compiler against the types `orderly schemas
 * codegen` generated from ./schemas) and, for each OrderPlaced:
 *
 * 1. adds the order to its read model `customer_order_totals` (orders, items and money per customer), through
 *    the PostgreSQL inbox: the inbox row and the update commit in one transaction, so a redelivered event
 *    (after a crash, a rebalance) adds nothing a second time. An increment is the kind of effect that needs it;
 * 2. emits OrderConfirmed with `context.emit`, keyed by the order. Its event id is derived from the
 *    OrderPlaced's, so a retry emits the same id and the consumers downstream drop the repeat.
 *
 * Run by ./start.ts (`npm run example:orders`); settings from the environment (./settings.ts). SIGTERM stops it.
 */
import pg, { type PoolClient } from 'pg';
import { Redis } from 'ioredis';
import {
  AvroCodec,
  createKafkaClient,
  createLogger,
  EventProducer,
  OrderedConsumer,
  PostgresInbox,
  RedisParkingStore,
  route,
  SchemaRegistryClient,
  type HandlerContext,
} from '../../index.ts'; // in your service: from 'orderly'
import type { OrderConfirmedInput, OrdersEvents, OrdersValue } from './order-event-types.ts';
import { ordersSettings, schemaText, subjectNameStrategy } from './settings.ts';

const settings = ordersSettings();
const groupId = settings.confirmerGroup;
const logger = createLogger({ level: settings.logLevel, base: { service: 'order-confirmer' } });

const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: 10 });
const redis = new Redis(settings.redisUrl);
const registry = new SchemaRegistryClient({ url: settings.schemaRegistryUrl });
// context.emit publishes through this producer (idempotent, acks=all).
const producer = new EventProducer({ kafka: createKafkaClient({ brokers: settings.kafkaBrokers, clientId: `${groupId}-emits` }, logger), registry, subjectNameStrategy, logger });

const inbox = new PostgresInbox({ pool, groupId });
await inbox.createTable();
await pool.query(`create table if not exists customer_order_totals (
  customer_id text primary key,
  orders integer not null,
  items integer not null,
  total_cents bigint not null,
  last_order_id uuid not null)`);

const orderConfirmed = schemaText('OrderConfirmed.avsc');

const consumer = new OrderedConsumer<OrdersValue>({
  kafka: { brokers: settings.kafkaBrokers, clientId: groupId },
  groupId,
  topics: [settings.ordersTopic],
  decoder: new AvroCodec<OrdersValue>({ source: registry, readerSchemas: [schemaText('OrderPlaced.avsc')] }),
  parkingStore: new RedisParkingStore({ redis, groupId }), // a retried order holds back later events of its key
  producer,
  logger,
  handler: inbox.handler(
    route<OrdersEvents, [PoolClient, HandlerContext]>({
      OrderPlaced: async (event, transaction, { emit }) => {
        const order = event.value;
        const items = order.lines.reduce((sum, line) => sum + line.quantity, 0);
        await transaction.query(
          `insert into customer_order_totals (customer_id, orders, items, total_cents, last_order_id) values ($1, 1, $2, $3, $4)
           on conflict (customer_id) do update set orders = customer_order_totals.orders + 1, items = customer_order_totals.items + excluded.items,
             total_cents = customer_order_totals.total_cents + excluded.total_cents, last_order_id = excluded.last_order_id`,
          [order.customerId, items, order.totalCents, order.orderId],
        );
        // Emitted inside the inbox's transaction, before it commits: once it has committed, a redelivered
        // OrderPlaced is skipped, so the confirmation must already be out. If the commit fails, the retry emits
        // again under the same id. Every field comes from the source event, so that repeat is the same event.
        const confirmed: OrderConfirmedInput = { orderId: order.orderId, customerId: order.customerId, totalCents: order.totalCents, itemCount: items };
        await emit(settings.confirmationsTopic, order.orderId, { schema: orderConfirmed, value: confirmed });
      },
    }),
  ),
});

await consumer.start();
console.log(`order-confirmer consuming ${settings.ordersTopic} as group ${groupId}`);

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await consumer.stop(); // handlers in flight finish, their offsets are committed
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
        console.error(`order-confirmer: stopping failed: ${error.message}`);
        process.exit(1);
      },
    );
  });
}
