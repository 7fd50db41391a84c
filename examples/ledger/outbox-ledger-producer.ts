/**
 * `orderly demo --via-outbox` and `demo produce --via-outbox`: the ledger events go through the transactional
 * outbox. Each chunk's `demo_published` rows and its outbox rows commit in one transaction (so the verifier
 * knows exactly the events that will be published, no more, no fewer); relays publish them. `demo produce`
 * runs a relay in its own process and waits until the outbox is drained; the all-in-one run starts relay
 * processes instead (`orderly outbox relay`), which `--chaos` SIGKILLs too.
 */
import pg from 'pg';
import { ConfigurationError, OrderlyError } from '../../core/errors.ts';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { OutboxRelay } from '../../outbox/outbox-relay.ts';
import { readOutboxStatus } from '../../outbox/outbox-status.ts';
import { createOutboxTables } from '../../outbox/outbox-table.ts';
import { OutboxWriter, type OutboxEntry } from '../../outbox/outbox-writer.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import type { DemoConnections, ValidDemoOptions } from './demo-options.ts';
import { toOutgoingEvent, type LedgerEventGenerator, type PublishedLedgerEvent } from './ledger-events.ts';
import { ledgerNamespaceOf } from './ledger-store.ts';
import { insertPublishedRows } from './postgres-ledger-store.ts';

/** Events per writing transaction. */
const transactionSize = 500;

/** The demo's outbox table: in the ledger schema of the topic and group. */
export function demoOutboxTable(topic: string, group: string): string {
  return `${ledgerNamespaceOf(topic, group)}.orderly_outbox`;
}

export function requirePostgres(database: string): void {
  if (!/^postgres(ql)?:\/\//.test(database)) throw new ConfigurationError(['--via-outbox: the outbox needs PostgreSQL (--database postgres://..., or DATABASE_URL)']);
}

/** Creates the outbox tables of the demo (relays create them too; the writer needs them first). */
export async function ensureDemoOutbox(connections: DemoConnections, options: Pick<ValidDemoOptions, 'topic' | 'group'>): Promise<string> {
  requirePostgres(connections.database);
  const table = demoOutboxTable(options.topic, options.group);
  const client = new pg.Client({ connectionString: connections.database });
  await client.connect();
  try {
    await createOutboxTables(client, table);
  } finally {
    await client.end();
  }
  return table;
}

function toOutboxEntry(event: PublishedLedgerEvent, topic: string): OutboxEntry {
  const outgoing = toOutgoingEvent(event);
  return { topic, key: outgoing.key, event: outgoing.value, schema: outgoing.schema, type: outgoing.type!, occurredAt: outgoing.occurredAt!, headers: outgoing.headers as Record<string, string> };
}

/**
 * Writes `options.events` events through the outbox, a transaction per chunk; with `relay: 'in-process'` also
 * relays them and resolves once the outbox is drained (or throws when it stalls for `stallTimeoutSeconds`).
 */
export async function produceThroughOutbox(
  connections: DemoConnections,
  options: ValidDemoOptions,
  generator: LedgerEventGenerator,
  onProgress: (written: number) => void,
  relayMode: 'in-process' | 'external',
): Promise<number> {
  const table = await ensureDemoOutbox(connections, options);
  const schema = ledgerNamespaceOf(options.topic, options.group);
  const pool = new pg.Pool({ connectionString: connections.database, max: 4, options: `-c search_path=${schema}` });
  pool.on('error', () => undefined);
  const registry = new SchemaRegistryClient({ url: connections.schemaRegistryUrl });
  const writer = new OutboxWriter({ registry, table, subjectNameStrategy: 'topic-record', autoRegister: true });
  let relay: OutboxRelay | undefined;
  let producer: EventProducer | undefined;
  if (relayMode === 'in-process') {
    const kafka = createKafkaClient({ brokers: connections.kafkaBrokers.split(','), clientId: 'ledger-demo-outbox-relay' });
    producer = new EventProducer({ kafka, registry });
    relay = new OutboxRelay({ pool, producer, kafka, table, listenConnectionString: connections.database });
    await relay.start();
  }
  let written = 0;
  try {
    while (written < options.events) {
      const chunk = Array.from({ length: Math.min(transactionSize, options.events - written) }, () => generator.next());
      const client = await pool.connect();
      try {
        await client.query('begin');
        const receipts = await writer.addAll(client, chunk.map((event) => toOutboxEntry(event, options.topic)));
        // The ids are the writer's: demo_published records each event under the id it will be published with.
        await insertPublishedRows(client, chunk.map((event, index) => ({ ...event, eventId: receipts[index]!.eventId })));
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
      written += chunk.length;
      onProgress(written);
    }
    if (relay) await waitUntilDrained(pool, table, options.stallTimeoutSeconds * 1_000);
  } finally {
    await relay?.stop();
    await producer?.close({ timeoutMs: 10_000 });
    await pool.end();
  }
  return written;
}

async function waitUntilDrained(pool: pg.Pool, table: string, stallMs: number): Promise<void> {
  let last = Number.POSITIVE_INFINITY;
  let lastChange = Date.now();
  for (;;) {
    const status = await readOutboxStatus(pool, table);
    if (status.failed > 0) throw new OrderlyError('KAFKA', `${status.failed} outbox row(s) failed (${status.failures.map((failure) => failure.reason).join('; ')}): see \`orderly outbox status --table ${table}\``);
    if (status.pending === 0) return;
    if (status.pending < last) [last, lastChange] = [status.pending, Date.now()];
    if (Date.now() - lastChange > stallMs) throw new OrderlyError('TIMEOUT', `the outbox ${table} has held ${status.pending} row(s) for ${stallMs / 1000} s: is Kafka up?`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
