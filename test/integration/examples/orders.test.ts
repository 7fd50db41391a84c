/**
 * The orders example (examples/orders) on the real stack, run the way a user runs it: `node
 * examples/orders/start.ts` (`npm run example:orders`) registers the schemas, creates the topics and starts
 * orders-api and order-confirmer as processes. On a database and topics of its own, the test drives the API
 * over HTTP: concurrent orders, a request whose transaction fails at commit (after the order and its outbox
 * row were written), a refused body; then checks the orders (confirmed), the read model, that each order's
 * OrderPlaced and OrderConfirmed are on their topics exactly once under the expected ids and that the failed
 * request published nothing, and that a redelivered OrderPlaced changes neither the read model nor the
 * confirmations (the inbox). SIGTERM stops the whole example.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { emittedEventId } from '../../../consumers/emit/attempt-emits.ts';
import { topicLayoutOf } from '../../../consumers/retries/topic-layout.ts';
import type { KafkaMessage } from '../../../core/kafka-client.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { produce, readAll } from '../../support/consumer-harness.ts';
import { testAdmin, testStack, uniqueName } from '../../support/test-stack.ts';

const orderCount = 30;
const customers = ['c-ann', 'c-bob', 'c-cy', 'c-dee', 'c-eve'];

interface PlacedOrder {
  orderId: string;
  eventId: string;
  customerId: string;
  totalCents: number;
  items: number;
}

/** A database of its own (dropped at the end), so the example's fixed table names meet nothing else. */
async function scratchDatabase(): Promise<string> {
  const name = uniqueName('orders_example').replaceAll('-', '_');
  const url = new URL(testStack().settings.DATABASE_URL);
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  onTestFinished(async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  url.pathname = `/${name}`;
  return url.toString();
}

/** Starts the example; resolves with the API's base URL once it says it is running. */
async function startExample(env: NodeJS.ProcessEnv, output: string[]): Promise<{ child: ChildProcess; base: string }> {
  // Its own process group: a failing test can end the example's services with it.
  const child = spawn(process.execPath, ['examples/orders/start.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start in 120 s:\n${output.join('\n')}`)), 120_000);
    lines.on('line', (line) => {
      output.push(line);
      const address = /orders-api listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
      if (address) {
        clearTimeout(timer);
        resolve(address);
      }
    });
    child.once('exit', (code) => reject(new Error(`the example ended (${code}) before it was up:\n${output.join('\n')}`)));
  });
  return { child, base };
}

async function waitFor(predicate: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function recordCount(topic: string): Promise<number> {
  const offsets = await (await testAdmin()).fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString();

describe('the orders example (examples/orders)', () => {
  it('places concurrent orders over HTTP, confirms each exactly once, keeps the read model exact, and publishes nothing for a rolled-back request', { timeout: 360_000 }, async () => {
    const databaseUrl = await scratchDatabase();
    const names = {
      ORDERS_TOPIC: uniqueName('orders'),
      CONFIRMATIONS_TOPIC: uniqueName('order-confirmations'),
      CONFIRMER_GROUP: uniqueName('order-confirmer'),
      ORDERS_API_GROUP: uniqueName('orders-api'),
    };
    onTestFinished(async () => {
      const admin = await testAdmin();
      const layouts = [topicLayoutOf(names.ORDERS_TOPIC, names.CONFIRMER_GROUP, 4), topicLayoutOf(names.CONFIRMATIONS_TOPIC, names.ORDERS_API_GROUP, 4)];
      await admin.deleteTopics({ topics: layouts.flatMap((layout) => [layout.source, ...layout.retries, layout.deadLetter]) }).catch(() => undefined);
    });
    const token = randomBytes(16).toString('hex');
    const output: string[] = [];
    const startedAt = Date.now();
    const { child, base } = await startExample(
      { ...process.env, ...testStack().settings, DATABASE_URL: databaseUrl, ...names, PORT: '0', ORDERS_API_TOKEN: token, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      output,
    );
    const upAt = Date.now();
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    onTestFinished(() => pool.end());
    const call = (path: string, init: RequestInit = {}, auth = true) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
        signal: AbortSignal.timeout(30_000),
      });
    const placeOrder = (body: unknown, auth = true) => call('/orders', { method: 'POST', body: JSON.stringify(body) }, auth);

    // A commit that fails after the order and its outbox row were written: a deferred trigger raises at commit.
    await pool.query(`create function fail_at_commit() returns trigger language plpgsql as $$ begin raise exception 'forced failure at commit'; end $$`);
    await pool.query(
      `create constraint trigger orders_fail_at_commit after insert on orders deferrable initially deferred for each row when (new.customer_id = 'fail-at-commit') execute function fail_at_commit()`,
    );

    expect((await placeOrder({ customerId: 'c-ann', lines: [{ sku: 'tea', quantity: 1, unitPriceCents: 100 }] }, false)).status).toBe(401);
    const refused = await placeOrder({ customerId: 'c-ann', lines: [{ sku: 'tea', quantity: '2', unitPriceCents: 100 }] });
    expect(refused.status).toBe(400);

    // The orders, all at once, with the failing one among them.
    const placingAt = Date.now();
    const bodies = Array.from({ length: orderCount }, (_, index) => ({
      customerId: customers[index % customers.length]!,
      lines: [
        { sku: `sku-${index}`, quantity: 1 + (index % 3), unitPriceCents: 250 + index },
        { sku: 'tea', quantity: 2, unitPriceCents: 450 },
      ],
    }));
    const [failed, ...responses] = await Promise.all([
      placeOrder({ customerId: 'fail-at-commit', lines: [{ sku: 'tea', quantity: 1, unitPriceCents: 450 }] }),
      ...bodies.map((body) => placeOrder(body)),
    ]);
    expect(failed!.status).toBe(500);
    expect(responses.map((response) => response.status)).toEqual(bodies.map(() => 201));
    const placedAt = Date.now();
    const placed: PlacedOrder[] = await Promise.all(
      responses.map(async (response, index) => {
        const { orderId, eventId, totalCents } = (await response.json()) as { orderId: string; eventId: string; totalCents: number };
        const items = bodies[index]!.lines.reduce((sum, line) => sum + line.quantity, 0);
        return { orderId, eventId, customerId: bodies[index]!.customerId, totalCents, items };
      }),
    );

    // Every order comes back confirmed through GET (OrderPlaced -> order-confirmer -> OrderConfirmed -> orders-api).
    const statuses = async () => Promise.all(placed.map(async ({ orderId }) => ((await (await call(`/orders/${orderId}`)).json()) as { status: string }).status));
    await waitFor(async () => (await statuses()).every((status) => status === 'confirmed'), 'every order confirmed');
    console.log(
      `orders example: up in ${upAt - startedAt} ms; ${orderCount} concurrent orders placed in ${placedAt - placingAt} ms, all confirmed ${Date.now() - placedAt} ms later (polled every 250 ms)`,
    );
    const shown = (await (await call(`/orders/${placed[0]!.orderId}`)).json()) as { customerId: string; totalCents: number; lines: unknown[] };
    expect(shown).toMatchObject({ customerId: placed[0]!.customerId, totalCents: placed[0]!.totalCents, lines: bodies[0]!.lines });
    expect((await call('/orders/00000000-0000-4000-8000-000000000000')).status).toBe(404);

    // The failed request left nothing: no order, no outbox row; the outbox is drained.
    const { rows: orderRows } = await pool.query<{ customer_id: string }>('select customer_id from orders');
    expect(orderRows).toHaveLength(orderCount);
    expect(orderRows.some((row) => row.customer_id === 'fail-at-commit')).toBe(false);
    expect(Number((await pool.query<{ count: string }>('select count(*) from orders_outbox')).rows[0]!.count)).toBe(0);

    // The read model, per customer, is exact.
    const expectedTotals = new Map<string, { orders: number; items: number; total_cents: number }>();
    for (const order of placed) {
      const totals = expectedTotals.get(order.customerId) ?? { orders: 0, items: 0, total_cents: 0 };
      expectedTotals.set(order.customerId, { orders: totals.orders + 1, items: totals.items + order.items, total_cents: totals.total_cents + order.totalCents });
    }
    const readModel = async () => {
      const { rows } = await pool.query<{ customer_id: string; orders: number; items: number; total_cents: string }>('select customer_id, orders, items, total_cents from customer_order_totals order by customer_id');
      return new Map(rows.map((row) => [row.customer_id, { orders: row.orders, items: row.items, total_cents: Number(row.total_cents) }]));
    };
    expect(await readModel()).toEqual(expectedTotals);

    // Each order's OrderPlaced is on its topic exactly once, under the id the API returned; nothing else is
    // there (the failed request published nothing).
    const placedRecords = await readAll(names.ORDERS_TOPIC, await recordCount(names.ORDERS_TOPIC));
    expect(placedRecords).toHaveLength(orderCount);
    expect(new Map(placedRecords.map((record) => [record.key!.toString(), header(record, 'orderly-event-id')]))).toEqual(new Map(placed.map((order) => [order.orderId, order.eventId])));

    // Each order's OrderConfirmed exactly once, under the id derived from its OrderPlaced.
    const confirmations = async () => readAll(names.CONFIRMATIONS_TOPIC, await recordCount(names.CONFIRMATIONS_TOPIC));
    const confirmed = await confirmations();
    expect(confirmed).toHaveLength(orderCount);
    expect(new Map(confirmed.map((record) => [record.key!.toString(), header(record, 'orderly-event-id')]))).toEqual(
      new Map(placed.map((order) => [order.orderId, emittedEventId(names.CONFIRMER_GROUP, order.eventId, 0)])),
    );
    expect(new Set(confirmed.map((record) => header(record, 'orderly-event-type')))).toEqual(new Set(['shop.orders.OrderConfirmed']));

    // A redelivered OrderPlaced (the same record again, as after a crash before the offset commit): the inbox
    // finds it applied, so the read model and the confirmations do not change.
    const again = placedRecords[0]!;
    await produce(names.ORDERS_TOPIC, [{ key: again.key, value: again.value, headers: again.headers }]);
    const admin = await testAdmin();
    await waitFor(async () => {
      const high = await admin.fetchTopicOffsets(names.ORDERS_TOPIC);
      const [committed] = await admin.fetchOffsets({ groupId: names.CONFIRMER_GROUP, topics: [names.ORDERS_TOPIC] });
      // A partition the orders missed has no committed offset (-1) and a high watermark of 0.
      return high.every(({ partition, high: end }) => Math.max(0, Number(committed!.partitions.find((entry) => entry.partition === partition)?.offset ?? -1)) >= Number(end));
    }, 'order-confirmer to commit past the redelivered event');
    expect(await recordCount(names.ORDERS_TOPIC)).toBe(orderCount + 1);
    expect(await readModel()).toEqual(expectedTotals);
    expect(await recordCount(names.CONFIRMATIONS_TOPIC)).toBe(orderCount);

    // SIGTERM stops the example: both services, then the command itself, cleanly.
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 45 s'), 45_000))]);
    expect(code, output.slice(-20).join('\n')).toBe(0);
    expect(output.filter((line) => /stopping failed|ended \(/.test(line))).toEqual([]);
  });
});
