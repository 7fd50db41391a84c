/**
 * One Apache Kafka node in KRaft mode (broker and controller in one JVM), run from the jars Maven fetched
 * into `infra/kafka/target/libs`. Loopback only; topics are never auto-created.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { OrderlyError } from '../../core/errors.ts';
import { kafkaLibsDir, kafkaLog4jConfig, kafkaPom } from './stack-paths.ts';
import { isAlive, spawnDetached, waitFor } from './process-control.ts';

export interface KafkaBrokerConfig {
  /** This node's folder: `server.properties`, `data/`, `broker.log`. */
  dir: string;
  port: number;
  controllerPort: number;
  /**
   * A second listener, SASL_PLAINTEXT with SCRAM-SHA-256 and -512, for the security smoke; its users are
   * added when the storage is formatted. The controller and inter-broker listeners stay PLAINTEXT.
   */
  sasl?: { port: number; users: readonly { username: string; password: string }[] };
  /** Off by the contract; the security smoke turns it on to show that Orderly never relies on it. @defaultValue false */
  autoCreateTopics?: boolean;
  /**
   * Membership in a cluster (`orderly stack up --brokers 3`): this node's id and every node's controller
   * port, node ids 1..n in order. Without it the node is a cluster of one (node id 1).
   */
  cluster?: { nodeId: number; controllerPorts: readonly number[] };
  /** The JVM heap flags. @defaultValue `ORDERLY_KAFKA_HEAP`, else `-Xms256m -Xmx1g` (one node) or `-Xms256m -Xmx512m` (each node of a cluster) */
  heap?: string;
}

/**
 * Replication of a cluster of `brokers` nodes: 3 copies and 2 in sync for an acks=all write from three nodes on
 * (one node may fail without stopping a write), 1 and 1 below that.
 */
export function replicationOf(brokers: number): { replicationFactor: number; minInsyncReplicas: number } {
  return brokers >= 3 ? { replicationFactor: 3, minInsyncReplicas: 2 } : { replicationFactor: 1, minInsyncReplicas: 1 };
}

export const scramMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** The broker's configuration. Pure, so a unit test can read it. */
export function brokerProperties({ dir, port, controllerPort, sasl, autoCreateTopics = false, cluster }: KafkaBrokerConfig): string {
  const saslListener = sasl ? `,SASL_PLAINTEXT://127.0.0.1:${sasl.port}` : '';
  const controllerPorts = cluster?.controllerPorts ?? [controllerPort];
  const { replicationFactor, minInsyncReplicas } = replicationOf(controllerPorts.length);
  const properties: Record<string, string | number | boolean> = {
    // Every node is broker and controller (combined mode): three JVMs instead of six on a small machine, and a
    // quorum of three voters that outlives one lost node. docs/reliability.md, "A three-node cluster".
    'process.roles': 'broker,controller',
    'node.id': cluster?.nodeId ?? 1,
    'controller.quorum.voters': controllerPorts.map((voterPort, index) => `${index + 1}@127.0.0.1:${voterPort}`).join(','),
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${saslListener}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}${saslListener}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${sasl ? ',SASL_PLAINTEXT:SASL_PLAINTEXT' : ''}`,
    'log.dirs': join(dir, 'data'),
    // The contract: every topic is created explicitly (`orderly topics create`).
    'auto.create.topics.enable': autoCreateTopics,
    'num.partitions': 1,
    // A single node cannot replicate; a cluster keeps 3 copies, 2 of them in sync for an acks=all write.
    'default.replication.factor': replicationFactor,
    'min.insync.replicas': minInsyncReplicas,
    // A replica that fell out of sync never becomes leader: that would drop acknowledged records.
    'unclean.leader.election.enable': false,
    'offsets.topic.replication.factor': replicationFactor,
    'offsets.topic.num.partitions': 12,
    'transaction.state.log.replication.factor': replicationFactor,
    'transaction.state.log.min.isr': minInsyncReplicas,
    'transaction.state.log.num.partitions': 12,
    'share.coordinator.state.topic.replication.factor': replicationFactor,
    'share.coordinator.state.topic.min.isr': minInsyncReplicas,
    // Groups form at once: tests and the demo start members one after another.
    'group.initial.rebalance.delay.ms': 0,
    // Topic deletion is part of the admin API the tests exercise.
    'delete.topic.enable': true,
    'log.retention.hours': 24,
    'log.segment.bytes': 104_857_600,
  };
  if (sasl) {
    properties['sasl.enabled.mechanisms'] = scramMechanisms.join(',');
    for (const mechanism of scramMechanisms) {
      // The broker side of SCRAM needs the login module and no options: the credentials live in the metadata log.
      properties[`listener.name.sasl_plaintext.${mechanism.toLowerCase()}.sasl.jaas.config`] =
        'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    }
  }
  return `${Object.entries(properties)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n')}\n`;
}

/** Fetches the broker jars with Maven when they are not there yet (first `stack up` on a machine). */
export function ensureKafkaJars(log: (line: string) => void): void {
  if (existsSync(kafkaLibsDir) && readdirSync(kafkaLibsDir).some((name) => name.startsWith('kafka_2.13-'))) return;
  log(`fetching the Kafka broker jars with Maven (${kafkaPom}) ...`);
  try {
    execFileSync('mvn', ['-B', '-q', '-f', kafkaPom, 'package'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    throw new OrderlyError(
      'STACK_START_FAILED',
      `Maven could not fetch the Kafka jars: run "mvn -B -f ${kafkaPom} package" to see why ` +
        '(Maven and Java 17 must be installed; on Debian: apt-get install maven openjdk-17-jdk-headless).',
      { cause: error },
    );
  }
}

function javaArgs(mainClass: string, args: readonly string[], heapFlags?: string): string[] {
  const heap = heapFlags ?? process.env.ORDERLY_KAFKA_HEAP ?? '-Xms256m -Xmx1g';
  return [
    ...heap.split(/\s+/).filter(Boolean),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${kafkaLog4jConfig}`,
    '-cp',
    `${kafkaLibsDir}/*`,
    mainClass,
    ...args,
  ];
}

/**
 * A new cluster id: 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` prints, never starting
 * with `-` (Kafka's own `Uuid.randomUuid` draws again too: `kafka-storage format -t -abc` reads the id as an
 * option and the stack fails to start, one start in 64).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function heapOf(config: KafkaBrokerConfig): string | undefined {
  return config.heap ?? process.env.ORDERLY_KAFKA_HEAP ?? (config.cluster ? '-Xms256m -Xmx512m' : undefined);
}

/**
 * Writes the configuration and formats the storage once (a formatted folder is kept across restarts). The
 * nodes of one cluster are formatted with the same `clusterId`.
 */
export function prepareBroker(config: KafkaBrokerConfig, clusterId: string = newClusterId()): void {
  mkdirSync(join(config.dir, 'data'), { recursive: true });
  const propertiesFile = join(config.dir, 'server.properties');
  writeFileSync(propertiesFile, brokerProperties(config));
  if (existsSync(join(config.dir, 'data', 'meta.properties'))) return;
  const scramUsers = (config.sasl?.users ?? []).flatMap(({ username, password }) =>
    scramMechanisms.flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${username},password=${password}]`]),
  );
  execFileSync('java', javaArgs('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', propertiesFile, ...scramUsers], '-Xmx256m'), {
    cwd: config.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts the JVM in the background and returns its pid (see {@link waitForBroker}). */
export function startBroker(config: KafkaBrokerConfig): number {
  return spawnDetached('java', javaArgs('kafka.Kafka', [join(config.dir, 'server.properties')], heapOf(config)), {
    cwd: config.dir,
    logFile: join(config.dir, 'broker.log'),
  });
}

/** True once the broker answers metadata requests and its group coordinator is loaded. */
export async function brokerAnswers(brokers: string, { withGroupCoordinator = true } = {}): Promise<boolean> {
  const admin = createKafkaClient({
    brokers: [brokers],
    clientId: 'orderly-stack-probe',
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 5_000,
  }).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
    // Loads the group coordinator (__consumer_offsets) so the first consumer group does not wait for it.
    if (withGroupCoordinator) await admin.describeGroups(['orderly-stack-probe']);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Waits until the broker answers; fails early, with the log's tail, if the JVM exits. */
export async function waitForBroker(config: KafkaBrokerConfig, pid: number, timeoutMs = 120_000): Promise<void> {
  const ready = await waitFor(() => brokerAnswers(`127.0.0.1:${config.port}`), {
    timeoutMs,
    intervalMs: 500,
    onTick: () => {
      if (!isAlive(pid)) throw brokerFailed(config, 'the broker process exited');
    },
  });
  if (!ready) throw brokerFailed(config, `the broker did not answer within ${timeoutMs} ms`);
}

function brokerFailed(config: KafkaBrokerConfig, why: string): OrderlyError {
  const logFile = join(config.dir, 'broker.log');
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  return new OrderlyError('STACK_START_FAILED', `Kafka did not start: ${why}. Last lines of ${logFile}:\n${tail}`);
}
