/**
 * The HTTP side of orders-api (fastify): `POST /orders` places an order, `GET /orders/:id` shows it. Every
 * request carries `Authorization: Bearer <token>`.
 *
 * Placing an order is one PostgreSQL transaction: the `orders` row and its OrderPlaced event in the outbox
 * (`OutboxWriter.add` on the same client) commit together or not at all. A request that fails anywhere before
 * the commit, the commit included, leaves neither behind, so no event is ever published for an order that does
 * not exist, and none is lost for one that does: the relay publishes what committed.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import type { OutboxWriter } from '../../index.ts';
import type { OrderPlacedInput } from './order-event-types.ts';
import { schemaText } from './settings.ts';

export interface OrdersHttpOptions {
  pool: Pool;
  outbox: OutboxWriter;
  ordersTopic: string;
  apiToken: string;
}

interface PlaceOrderBody {
  customerId: string;
  lines: { sku: string; quantity: number; unitPriceCents: number }[];
}

/** The body of `POST /orders`, checked before anything is written (400 otherwise). */
const placeOrderBody = {
  type: 'object',
  additionalProperties: false,
  required: ['customerId', 'lines'],
  properties: {
    customerId: { type: 'string', minLength: 1, maxLength: 64 },
    lines: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sku', 'quantity', 'unitPriceCents'],
        properties: {
          sku: { type: 'string', minLength: 1, maxLength: 64 },
          quantity: { type: 'integer', minimum: 1, maximum: 1_000 },
          unitPriceCents: { type: 'integer', minimum: 0, maximum: 10_000_000 },
        },
      },
    },
  },
} as const;

const orderPlacedSchema = schemaText('OrderPlaced.avsc');

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Runs `work` in a transaction on one pooled connection: commit when it returns, roll back when anything throws. */
async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export function ordersHttp({ pool, outbox, ordersTopic, apiToken }: OrdersHttpOptions): FastifyInstance {
  // Strict validation: refuse what the schema does not allow instead of coercing "3" to 3 or dropping extra fields.
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  const tokenDigest = digest(apiToken);

  app.addHook('onRequest', async (request, reply) => {
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(request.headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!), tokenDigest)) return reply.code(401).send({ error: 'unauthorized: send Authorization: Bearer <ORDERS_API_TOKEN>' });
  });

  // Errors other than a refused request are logged without their details reaching the client.
  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    if (error.statusCode !== undefined && error.statusCode < 500) return reply.code(error.statusCode).send({ error: error.message });
    console.error(`${request.method} ${request.url} failed: ${error.message}`);
    return reply.code(500).send({ error: 'internal error: nothing was written' });
  });

  app.post<{ Body: PlaceOrderBody }>('/orders', { schema: { body: placeOrderBody } }, async (request, reply) => {
    const { customerId, lines } = request.body;
    const order: OrderPlacedInput = {
      orderId: randomUUID(),
      customerId,
      lines,
      totalCents: lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
      placedAt: Date.now(),
    };
    const { eventId } = await inTransaction(pool, async (client) => {
      await client.query('insert into orders (id, customer_id, lines, total_cents, placed_at) values ($1, $2, $3, $4, $5)', [
        order.orderId,
        customerId,
        JSON.stringify(lines),
        order.totalCents,
        new Date(order.placedAt),
      ]);
      // Same client, same transaction: the event is encoded and checked against the registry here, keyed by
      // the order so that every event of one order keeps its order on the topic.
      return outbox.add(client, { topic: ordersTopic, key: order.orderId, event: order, schema: orderPlacedSchema });
    });
    return reply.code(201).header('location', `/orders/${order.orderId}`).send({ orderId: order.orderId, eventId, status: 'placed', totalCents: order.totalCents });
  });

  app.get<{ Params: { id: string } }>('/orders/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } } } }, async (request, reply) => {
    const { rows } = await pool.query<{ customer_id: string; lines: PlaceOrderBody['lines']; total_cents: string; status: string; placed_at: Date; confirmed_at: Date | null }>(
      'select customer_id, lines, total_cents, status, placed_at, confirmed_at from orders where id = $1',
      [request.params.id],
    );
    const row = rows[0];
    if (!row) return reply.code(404).send({ error: `no order ${request.params.id}` });
    return {
      orderId: request.params.id,
      customerId: row.customer_id,
      lines: row.lines,
      totalCents: Number(row.total_cents),
      status: row.status,
      placedAt: row.placed_at.toISOString(),
      confirmedAt: row.confirmed_at?.toISOString() ?? null,
    };
  });

  return app;
}
