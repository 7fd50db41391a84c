/**
 * A real Confluent-compatible schema registry for the local stack: Apicurio Registry 3.0.9 (the newest
 * release on Maven Central that runs on Java 17), serving Confluent's REST API at `/apis/ccompat/v7`.
 * It stores its journal in the stack's Kafka (KafkaSQL), as Confluent's registry stores `_schemas`, so
 * schema ids survive a registry restart. See docs/schema-registry.md for where it differs from Confluent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { OrderlyError } from '../../core/errors.ts';
import { registryJar, registryMavenSettings, registryPom } from './stack-paths.ts';
import { isAlive, spawnDetached, waitFor } from './process-control.ts';

export interface SchemaRegistryConfig {
  /** Its folder: `registry.log`. */
  dir: string;
  port: number;
  kafkaBrokers: string;
}

/** The registry's own topics, created explicitly and never deleted by retention. */
export const registryTopics = {
  journal: '_orderly-registry-journal',
  snapshots: '_orderly-registry-snapshots',
  events: '_orderly-registry-events',
} as const;

export function registryUrlOf(port: number): string {
  return `http://127.0.0.1:${port}/apis/ccompat/v7`;
}

export function ensureRegistryJars(log: (line: string) => void): void {
  if (existsSync(registryJar)) return;
  log(`fetching Apicurio Registry with Maven (${registryPom}) ...`);
  try {
    execFileSync('mvn', ['-B', '-q', '-s', registryMavenSettings, '-f', registryPom, 'package'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    throw new OrderlyError(
      'STACK_START_FAILED',
      `Maven could not fetch Apicurio Registry: run "mvn -B -s ${registryMavenSettings} -f ${registryPom} package" to see why.`,
      { cause: error },
    );
  }
}

/** The JVM command line. Pure, so a unit test can read the flags that make it behave like Confluent's. */
export function registryJavaArgs({ port, kafkaBrokers }: SchemaRegistryConfig): string[] {
  return [
    '-Xms32m',
    '-Xmx256m',
    '-XX:MaxMetaspaceSize=192m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${port}`,
    '-Dapicurio.storage.kind=kafkasql',
    `-Dapicurio.kafkasql.bootstrap.servers=${kafkaBrokers}`,
    `-Dapicurio.kafkasql.topic=${registryTopics.journal}`,
    `-Dapicurio.kafkasql.snapshots.topic=${registryTopics.snapshots}`,
    `-Dapicurio.events.kafka.topic=${registryTopics.events}`,
    // Confluent: the same schema, however formatted, is the same id.
    '-Dapicurio.ccompat.use-canonical-hash=true',
    // Confluent's default compatibility level.
    '-Dapicurio.rules.global.compatibility=BACKWARD',
    '-jar',
    registryJar,
  ];
}

/**
 * Creates the journal topics with infinite retention (the broker never auto-creates a topic), with the stack's
 * replication: on a three-node cluster 3 copies, 2 in sync, so the registry outlives the loss of one node.
 */
export async function createRegistryTopics(
  kafkaBrokers: string,
  { replicationFactor = 1, minInsyncReplicas = 1 }: { replicationFactor?: number; minInsyncReplicas?: number } = {},
): Promise<void> {
  const admin = createKafkaClient({ brokers: kafkaBrokers.split(','), clientId: 'orderly-stack' }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const inSync = { name: 'min.insync.replicas', value: String(minInsyncReplicas) };
    const forever = [{ name: 'retention.ms', value: '-1' }, { name: 'retention.bytes', value: '-1' }, inSync];
    const topics = [
      { topic: registryTopics.journal, numPartitions: 1, replicationFactor, configEntries: forever },
      { topic: registryTopics.snapshots, numPartitions: 1, replicationFactor, configEntries: forever },
      { topic: registryTopics.events, numPartitions: 1, replicationFactor, configEntries: [inSync] },
    ].filter(({ topic }) => !existing.has(topic));
    if (topics.length > 0) await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export function startSchemaRegistry(config: SchemaRegistryConfig): number {
  mkdirSync(config.dir, { recursive: true });
  return spawnDetached('java', registryJavaArgs(config), { cwd: config.dir, logFile: join(config.dir, 'registry.log') });
}

export async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Waits until the registry answers, then sets the global level to BACKWARD through the API as well, so that
 * `GET /config` reports it as Confluent's does (the startup flag enforces it but reports NONE).
 */
export async function waitForSchemaRegistry(url: string, pid: number, timeoutMs = 120_000): Promise<void> {
  const ready = await waitFor(() => registryAnswers(url), {
    timeoutMs,
    intervalMs: 250,
    onTick: () => {
      if (!isAlive(pid)) throw new OrderlyError('STACK_START_FAILED', 'the schema registry exited at start; see registry/registry.log');
    },
  });
  if (!ready) throw new OrderlyError('STACK_START_FAILED', `the schema registry did not answer within ${timeoutMs} ms`);
  const response = await fetch(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  if (!response.ok) throw new OrderlyError('STACK_START_FAILED', `the schema registry refused PUT /config: HTTP ${response.status}`);
}
