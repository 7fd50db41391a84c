/**
 * An outbox relay in its own process, for the crash tests. With OUTBOX_KILL_AFTER_PUBLISH=1 it SIGKILLs itself
 * right after the broker acknowledged its first non-empty batch, before the claim marks the rows sent.
 * Settings: DATABASE_URL, KAFKA_BROKERS, SCHEMA_REGISTRY_URL, OUTBOX_TABLE, OUTBOX_BATCH_SIZE (default 500).
 */
import pg from 'pg';
import { createKafkaClient } from '../../../core/kafka-client.ts';
import { OutboxRelay } from '../../../outbox/outbox-relay.ts';
import { EventProducer, type EncodedOutgoingEvent, type PublishedEvent } from '../../../producers/index.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

const [database, brokers, registryUrl, table] = ['DATABASE_URL', 'KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'OUTBOX_TABLE'].map((name) => {
  const value = process.env[name];
  if (!value) throw new Error(`outbox-relay-process needs ${name} in its environment`);
  return value;
}) as [string, string, string, string];

class KillingProducer extends EventProducer {
  override async publishEncodedBatch(events: readonly EncodedOutgoingEvent[]): Promise<PublishedEvent[]> {
    const published = await super.publishEncodedBatch(events);
    if (published.length > 0) {
      process.stdout.write(`published ${published.length} ${published.map((event) => event.eventId).join(',')}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
    return published;
  }
}

const kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'outbox-relay-process' });
const Producer = process.env.OUTBOX_KILL_AFTER_PUBLISH === '1' ? KillingProducer : EventProducer;
const producer = new Producer({ kafka, registry: new SchemaRegistryClient({ url: registryUrl }) });
const pool = new pg.Pool({ connectionString: database, max: 4 });
const relay = new OutboxRelay({ pool, producer, kafka, table, listenConnectionString: database, batchSize: Number(process.env.OUTBOX_BATCH_SIZE ?? 500), concurrency: 1 });
await relay.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void relay.stop().then(() => process.exit(0));
});
