/**
 * `orderly demo produce`: creates the source topic, its retry tiers and its DLT (explicitly: nothing is
 * auto-created), then publishes keyed Avro ledger events. Each chunk is recorded in `demo_published` before it
 * is sent, so the verifier knows of every event that may be in Kafka. With `viaOutbox`, each chunk's
 * `demo_published` rows and outbox rows commit in one transaction instead (outbox-ledger-producer.ts).
 */
import { ConfigurationError } from '../../core/errors.ts';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { ensureTopicLayout } from '../../consumers/retries/topic-layout.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { demoDelayLevelsMs, demoRetryTiersMs, type DemoConnections, type ValidDemoOptions } from './demo-options.ts';
import { LedgerEventGenerator, toOutgoingEvent } from './ledger-events.ts';
import type { LedgerStore } from './ledger-store.ts';
import { produceThroughOutbox } from './outbox-ledger-producer.ts';

/** Events recorded and published per round trip. */
const chunkSize = 2_000;

/** How long topic creation is tried again while the cluster does not answer (a node restarting, no controller). */
const topicSetupPatienceMs = 120_000;

/**
 * Creates the topic layout of the demo's topic and group; returns the topics it created. A failure other than a
 * configuration problem (a node of a cluster restarting, the controller quorum electing) is tried again each
 * 2 s for up to 2 minutes, each try said on stderr, before it fails the run.
 */
export async function ensureDemoTopics(connections: DemoConnections, options: Pick<ValidDemoOptions, 'topic' | 'group' | 'partitions'>): Promise<string[]> {
  const deadline = Date.now() + topicSetupPatienceMs;
  for (let attempt = 1; ; attempt++) {
    const admin = createKafkaClient({ brokers: connections.kafkaBrokers.split(','), clientId: 'ledger-demo-admin' }).admin();
    try {
      await admin.connect();
      return await ensureTopicLayout(admin, { topic: options.topic, groupId: options.group, tierCount: demoRetryTiersMs.length, delayLevelCount: demoDelayLevelsMs.length, partitions: options.partitions });
    } catch (error) {
      if (error instanceof ConfigurationError || Date.now() > deadline) throw error;
      process.stderr.write(`creating the demo topics failed (${(error as Error).message}); trying again (attempt ${attempt + 1})\n`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

export interface ProduceResult {
  runId: string;
  published: number;
  durationMs: number;
}

/**
 * Publishes `options.events` events over `options.keys` accounts, going on from each account's last
 * published sequence. `onProgress` gets the number published so far after each chunk.
 */
export async function produceLedgerEvents(
  connections: DemoConnections,
  store: LedgerStore,
  options: ValidDemoOptions,
  onProgress: (published: number) => void = () => undefined,
  outboxRelay: 'in-process' | 'external' = 'in-process',
): Promise<ProduceResult> {
  const startedAt = Date.now();
  await ensureDemoTopics(connections, options);
  await store.setup();
  const runId = new Date(startedAt).toISOString();
  const generator = new LedgerEventGenerator({ ...options, runId, accounts: await store.accountPlans() });
  if (options.viaOutbox && options.delayMs > 0) throw new ConfigurationError(['--delay-ms with --via-outbox: the outbox relay publishes no delays (docs/scheduling.md, "Limits")']);
  if (options.viaOutbox) {
    // demo_published and the outbox rows commit together; relays publish (docs/outbox.md).
    const published = await produceThroughOutbox(connections, options, generator, onProgress, outboxRelay);
    return { runId, published, durationMs: Date.now() - startedAt };
  }
  const producer = new EventProducer({
    kafka: createKafkaClient({ brokers: connections.kafkaBrokers.split(','), clientId: 'ledger-demo-producer' }),
    registry: new SchemaRegistryClient({ url: connections.schemaRegistryUrl }),
    topic: options.topic,
    subjectNameStrategy: 'topic-record',
    autoRegister: true,
    maxInFlight: chunkSize,
  });
  let published = 0;
  try {
    while (published < options.events) {
      const chunk = Array.from({ length: Math.min(chunkSize, options.events - published) }, () => generator.next());
      await store.recordPublished(chunk);
      await producer.publishBatch(chunk.map(toOutgoingEvent));
      published += chunk.length;
      onProgress(published);
    }
  } finally {
    await producer.close();
  }
  return { runId, published, durationMs: Date.now() - startedAt };
}
