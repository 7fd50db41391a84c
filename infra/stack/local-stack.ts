/**
 * `orderly stack up | down | status` without Docker: Kafka (KRaft), a Confluent-compatible schema registry
 * (Apicurio, storing in that Kafka) and, unless `REDIS_URL` is set, a private Redis run as detached local processes whose data, logs and settings live in the stack folder; PostgreSQL is
 * the one at `DATABASE_URL` or the machine's own. `up` is idempotent: what already runs and answers is kept.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  brokerAnswers,
  ensureKafkaJars,
  newClusterId,
  prepareBroker,
  replicationOf,
  startBroker,
  waitForBroker,
  type KafkaBrokerConfig,
} from './kafka-broker.ts';
import { OrderlyError } from '../../core/errors.ts';
import { redisAnswers, startRedisServer, waitForRedis } from './redis-server.ts';
import {
  createRegistryTopics,
  ensureRegistryJars,
  registryAnswers,
  registryUrlOf,
  startSchemaRegistry,
  waitForSchemaRegistry,
} from './schema-registry.ts';
import { localDatabaseUrl, postgresAnswers, redactUrl, requirePostgres } from './postgres-check.ts';
import { ownsProcess, stopProcess } from './process-control.ts';
import { choosePort, isPortFree } from './free-port.ts';
import { withStackLock } from './stack-lock.ts';
import { settingsFile, writeSettings, type StackSettings } from './stack-settings.ts';
import { readStackState, writeStackState, type KafkaNodeState, type StackState } from './stack-state.ts';

export type { KafkaNodeState, StackState } from './stack-state.ts';

export interface ServiceStatus {
  service: 'kafka' | 'schema-registry' | 'redis' | 'postgres';
  /** Started by this stack (else external: given by an environment variable or the machine). */
  managed: boolean;
  pid?: number;
  address: string;
  healthy: boolean;
  /** The Kafka node id, in a multi-node stack (one line per node). */
  node?: number;
}

export interface LocalStackOptions {
  dir: string;
  env?: NodeJS.ProcessEnv;
  /** Progress lines (the CLI prints them to stderr). */
  log?: (line: string) => void;
  /** For the security smoke: a SCRAM listener and auto-creation on the broker, a password on redis-server. */
  security?: {
    kafkaUsers?: readonly { username: string; password: string }[];
    autoCreateTopics?: boolean;
    redisPassword?: string;
  };
  /**
   * Kafka nodes: 1 (the default) or 3 (a KRaft cluster of three combined broker+controller nodes, replication
   * factor 3, min ISR 2). @defaultValue what the stack folder already holds, else 1
   */
  brokers?: number;
}

/** The Kafka node counts `stack up --brokers` accepts. */
export const supportedBrokerCounts = [1, 3] as const;

export const preferredPorts = { kafka: 19092, kafkaController: 19093, kafkaSasl: 19094, redis: 16379, registry: 18081 } as const;

export class LocalStack {
  readonly dir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  private readonly security: NonNullable<LocalStackOptions['security']>;
  private readonly brokers: number | undefined;

  constructor({ dir, env = process.env, log = () => undefined, security = {}, brokers }: LocalStackOptions) {
    if (brokers !== undefined && !(supportedBrokerCounts as readonly number[]).includes(brokers)) {
      throw new OrderlyError('CONFIGURATION', `--brokers must be ${supportedBrokerCounts.join(' or ')}, not ${brokers}`);
    }
    if (brokers !== undefined && brokers > 1 && security.kafkaUsers) {
      throw new OrderlyError('CONFIGURATION', 'a SCRAM listener is only available on a one-node stack');
    }
    this.dir = dir;
    this.env = env;
    this.log = log;
    this.security = security;
    this.brokers = brokers;
  }

  /** The node count of this stack: the one asked for, checked against what the folder already holds. */
  brokerCount(state: StackState = this.readState()): number {
    const existing = state.kafkaCluster ? state.kafkaCluster.nodes.length : state.kafka ? 1 : undefined;
    if (this.brokers !== undefined && existing !== undefined && existing !== this.brokers) {
      throw new OrderlyError(
        'CONFIGURATION',
        `${this.dir} holds a ${existing}-node Kafka, not ${this.brokers}: run \`orderly stack down --purge\` first, or use another ORDERLY_STACK_DIR`,
      );
    }
    return this.brokers ?? existing ?? 1;
  }

  private nodeDir(nodeId: number): string {
    return join(this.dir, `kafka-${nodeId}`);
  }

  /** The bootstrap list: every node's `127.0.0.1:port`, comma-separated. */
  private kafkaBrokersOf(state: StackState): string {
    if (state.kafkaCluster) return state.kafkaCluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
    return `127.0.0.1:${state.kafka!.port}`;
  }

  private brokerConfig(port: number, controllerPort: number, saslPort: number | undefined): KafkaBrokerConfig {
    const { kafkaUsers, autoCreateTopics } = this.security;
    const sasl = kafkaUsers && saslPort !== undefined ? { port: saslPort, users: kafkaUsers } : undefined;
    return { dir: this.kafkaDir, port, controllerPort, sasl, autoCreateTopics };
  }

  private get kafkaDir() {
    return join(this.dir, 'kafka');
  }

  private get redisDir() {
    return join(this.dir, 'redis');
  }

  private get registryDir() {
    return join(this.dir, 'registry');
  }

  readState(): StackState {
    return readStackState(this.dir);
  }

  private writeState(state: StackState): void {
    writeStackState(this.dir, state);
  }

  /** Starts what is not running, waits until everything answers, writes and returns the settings. */
  async up(): Promise<StackSettings> {
    mkdirSync(this.dir, { recursive: true });
    return withStackLock(this.dir, async () => {
      const state = this.readState();
      const brokers = this.brokerCount(state);
      if (brokers === 1) state.kafka = await this.upKafka(state.kafka);
      else state.kafkaCluster = await this.upKafkaCluster(state.kafkaCluster, brokers, (cluster) => this.writeState({ ...state, kafkaCluster: cluster }));
      this.writeState(state);
      const kafkaBrokers = this.kafkaBrokersOf(state);
      state.registry = await this.upRegistry(state.registry, kafkaBrokers, brokers);
      this.writeState(state);
      const redisUrl = await this.upRedis(state);
      this.writeState(state);
      const databaseUrl = this.env.DATABASE_URL ?? localDatabaseUrl;
      await requirePostgres(databaseUrl);
      const settings: StackSettings = {
        KAFKA_BROKERS: kafkaBrokers,
        REDIS_URL: redisUrl,
        DATABASE_URL: databaseUrl,
        SCHEMA_REGISTRY_URL: registryUrlOf(state.registry.port),
      };
      writeSettings(this.dir, settings);
      return settings;
    });
  }

  private async upKafka(previous: StackState['kafka']): Promise<NonNullable<StackState['kafka']>> {
    if (ownsProcess(previous?.pid, this.kafkaDir)) {
      const config = this.brokerConfig(previous.port, previous.controllerPort, previous.saslPort);
      if (await brokerAnswers(`127.0.0.1:${previous.port}`)) {
        this.log(`kafka: already running (pid ${previous.pid}) on 127.0.0.1:${previous.port}`);
        return previous;
      }
      this.log(`kafka: pid ${previous.pid} runs but does not answer yet; waiting`);
      await waitForBroker(config, previous.pid);
      return previous;
    }
    ensureKafkaJars(this.log);
    const port = await reusePort(previous?.port, preferredPorts.kafka);
    const controllerPort = await reusePort(previous?.controllerPort, preferredPorts.kafkaController, new Set([port]));
    const saslPort = this.security.kafkaUsers ? await reusePort(previous?.saslPort, preferredPorts.kafkaSasl, new Set([port, controllerPort])) : undefined;
    const config = this.brokerConfig(port, controllerPort, saslPort);
    prepareBroker(config);
    const startedAt = Date.now();
    const pid = startBroker(config);
    this.log(`kafka: started pid ${pid} on 127.0.0.1:${port} (controller ${controllerPort}); waiting until it answers`);
    await waitForBroker(config, pid);
    this.log(`kafka: answering after ${Date.now() - startedAt} ms`);
    return { pid, port, controllerPort, ...(saslPort === undefined ? {} : { saslPort }) };
  }

  /**
   * Starts every node of the cluster that does not run (all at once: a node answers only once a quorum of
   * controllers is up), on the ports and data it had, and waits until each answers. `save` records the pids
   * as soon as the processes exist, so a failed start leaves nothing `down` cannot stop.
   */
  private async upKafkaCluster(
    previous: StackState['kafkaCluster'],
    brokers: number,
    save: (cluster: NonNullable<StackState['kafkaCluster']>) => void,
    only?: ReadonlySet<number>,
  ): Promise<NonNullable<StackState['kafkaCluster']>> {
    ensureKafkaJars(this.log);
    const clusterId = previous?.clusterId ?? newClusterId();
    const taken = new Set<number>();
    const nodes: KafkaNodeState[] = [];
    for (let nodeId = 1; nodeId <= brokers; nodeId++) {
      const known = previous?.nodes.find((node) => node.nodeId === nodeId);
      if (known && ownsProcess(known.pid, this.nodeDir(nodeId))) {
        nodes.push(known);
      } else if (known && only && !only.has(nodeId)) {
        nodes.push({ nodeId, port: known.port, controllerPort: known.controllerPort }); // left down
      } else if (known) {
        // The voters list names every controller port: a node must come back on the ports it had.
        for (const port of [known.port, known.controllerPort]) {
          if (!(await isPortFree(port))) {
            throw new OrderlyError('STACK_START_FAILED', `kafka node ${nodeId}: port ${port} is taken by another program; free it, or run \`orderly stack down --purge\` and start again`);
          }
        }
        nodes.push({ nodeId, port: known.port, controllerPort: known.controllerPort });
      } else {
        const port = await choosePort(preferredPorts.kafka + 100 * nodeId, taken);
        taken.add(port);
        const controllerPort = await choosePort(preferredPorts.kafkaController + 100 * nodeId, taken);
        nodes.push({ nodeId, port, controllerPort });
      }
      taken.add(nodes.at(-1)!.port).add(nodes.at(-1)!.controllerPort);
    }
    const controllerPorts = nodes.map((node) => node.controllerPort);
    const configOf = (node: KafkaNodeState): KafkaBrokerConfig => ({
      dir: this.nodeDir(node.nodeId),
      port: node.port,
      controllerPort: node.controllerPort,
      cluster: { nodeId: node.nodeId, controllerPorts },
    });
    const startedAt = Date.now();
    const started: KafkaNodeState[] = [];
    for (const node of nodes) {
      if (only && !only.has(node.nodeId)) continue;
      if (node.pid !== undefined) {
        this.log(`kafka node ${node.nodeId}: already running (pid ${node.pid}) on 127.0.0.1:${node.port}`);
        continue;
      }
      prepareBroker(configOf(node), clusterId);
      node.pid = startBroker(configOf(node));
      started.push(node);
      save({ clusterId, nodes });
      this.log(`kafka node ${node.nodeId}: started pid ${node.pid} on 127.0.0.1:${node.port} (controller ${node.controllerPort})`);
    }
    await Promise.all(nodes.filter((node) => !only || only.has(node.nodeId)).map((node) => waitForBroker(configOf(node), node.pid!)));
    if (started.length > 0) this.log(`kafka: node(s) ${started.map(({ nodeId }) => nodeId).join(', ')} answering after ${Date.now() - startedAt} ms`);
    return { clusterId, nodes };
  }

  /**
   * Starts the given nodes of a multi-node stack's Kafka, if they do not run, and waits until they answer; the
   * other nodes are left as they are (a scenario brings back one of two stopped nodes). Returns how long it took.
   */
  async startKafkaNodes(nodeIds: readonly number[]): Promise<number> {
    const startedAt = Date.now();
    await withStackLock(this.dir, async () => {
      const state = this.readState();
      if (!state.kafkaCluster) throw new OrderlyError('CONFIGURATION', `${this.dir} holds no multi-node Kafka`);
      state.kafkaCluster = await this.upKafkaCluster(state.kafkaCluster, state.kafkaCluster.nodes.length, (cluster) => this.writeState({ ...state, kafkaCluster: cluster }), new Set(nodeIds));
      this.writeState(state);
    });
    return Date.now() - startedAt;
  }

  private async upRegistry(
    previous: StackState['registry'],
    kafkaBrokers: string,
    brokers: number,
  ): Promise<NonNullable<StackState['registry']>> {
    if (ownsProcess(previous?.pid, this.registryDir)) {
      this.log(`schema-registry: already running (pid ${previous.pid}) at ${registryUrlOf(previous.port)}`);
      await waitForSchemaRegistry(registryUrlOf(previous.port), previous.pid);
      return previous;
    }
    ensureRegistryJars(this.log);
    await createRegistryTopics(kafkaBrokers, replicationOf(brokers));
    const port = await reusePort(previous?.port, preferredPorts.registry);
    const startedAt = Date.now();
    const pid = startSchemaRegistry({ dir: this.registryDir, port, kafkaBrokers });
    this.log(`schema-registry: started pid ${pid} (Apicurio 3.0.9, KafkaSQL storage); waiting until it answers`);
    await waitForSchemaRegistry(registryUrlOf(port), pid);
    this.log(`schema-registry: answering at ${registryUrlOf(port)} after ${Date.now() - startedAt} ms`);
    return { pid, port };
  }

  private async upRedis(state: StackState): Promise<string> {
    if (this.env.REDIS_URL) {
      if (!(await redisAnswers(this.env.REDIS_URL))) {
        throw new Error(`REDIS_URL is set but Redis does not answer at ${redactUrl(this.env.REDIS_URL)}`);
      }
      this.log(`redis: using REDIS_URL (${redactUrl(this.env.REDIS_URL)})`);
      delete state.redis;
      return this.env.REDIS_URL;
    }
    const previous = state.redis;
    const password = this.security.redisPassword;
    if (ownsProcess(previous?.pid, this.redisDir) && (await redisAnswers(redisUrlOf(previous.port, password)))) {
      this.log(`redis: already running (pid ${previous.pid}) on 127.0.0.1:${previous.port}`);
      return redisUrlOf(previous.port, password);
    }
    const port = await reusePort(previous?.port, preferredPorts.redis);
    const pid = startRedisServer({ dir: this.redisDir, port, password });
    state.redis = { pid, port };
    await waitForRedis(redisUrlOf(port, password), pid);
    this.log(`redis: started pid ${pid} on 127.0.0.1:${port} (AOF on${password === undefined ? '' : ', password required'})`);
    return redisUrlOf(port, password);
  }

  /** Stops every process this stack started; `purge` also deletes the data. No process is left behind. */
  async down({ purge = false } = {}): Promise<void> {
    if (!existsSync(this.dir)) return;
    await withStackLock(this.dir, async () => {
      const state = this.readState();
      if (ownsProcess(state.redis?.pid, this.redisDir)) {
        this.log(`redis: ${await stopProcess(state.redis.pid, 10_000)} (pid ${state.redis.pid})`);
      }
      if (ownsProcess(state.registry?.pid, this.registryDir)) {
        this.log(`schema-registry: ${await stopProcess(state.registry.pid, 15_000)} (pid ${state.registry.pid})`);
      }
      if (ownsProcess(state.kafka?.pid, this.kafkaDir)) {
        this.log(`kafka: ${await stopProcess(state.kafka.pid, 30_000)} (pid ${state.kafka.pid})`);
      }
      // All nodes at once: stopped one by one, the last ones would wait for a quorum that is already gone.
      await Promise.all(
        (state.kafkaCluster?.nodes ?? []).map(async (node) => {
          if (ownsProcess(node.pid, this.nodeDir(node.nodeId))) this.log(`kafka node ${node.nodeId}: ${await stopProcess(node.pid, 30_000)} (pid ${node.pid})`);
          delete node.pid;
        }),
      );
      if (state.redis) delete state.redis.pid;
      if (state.kafka) delete state.kafka.pid;
      if (state.registry) delete state.registry.pid;
      this.writeState(state);
      rmSync(settingsFile(this.dir), { force: true });
    });
    if (purge) {
      rmSync(this.dir, { recursive: true, force: true });
      this.log(`removed ${this.dir}`);
    }
  }

  async status(): Promise<ServiceStatus[]> {
    const state = this.readState();
    const statuses: ServiceStatus[] = [];
    if (state.kafkaCluster) {
      for (const node of state.kafkaCluster.nodes) {
        const pid = ownsProcess(node.pid, this.nodeDir(node.nodeId)) ? node.pid : undefined;
        const address = `127.0.0.1:${node.port}`;
        // Probed alone (a client that bootstraps from this node only): a healthy neighbour does not count.
        const healthy = pid !== undefined && (await brokerAnswers(address, { withGroupCoordinator: false }));
        statuses.push({ service: 'kafka', node: node.nodeId, managed: true, pid, address, healthy });
      }
    } else {
      const kafkaPid = ownsProcess(state.kafka?.pid, this.kafkaDir) ? state.kafka?.pid : undefined;
      const kafkaAddress = state.kafka ? `127.0.0.1:${state.kafka.port}` : '(never started)';
      statuses.push({
        service: 'kafka',
        managed: true,
        pid: kafkaPid,
        address: kafkaAddress,
        healthy: kafkaPid !== undefined && (await brokerAnswers(kafkaAddress, { withGroupCoordinator: false })),
      });
    }
    const registryPid = ownsProcess(state.registry?.pid, this.registryDir) ? state.registry?.pid : undefined;
    const registryUrl = state.registry ? registryUrlOf(state.registry.port) : '(never started)';
    statuses.push({
      service: 'schema-registry',
      managed: true,
      pid: registryPid,
      address: registryUrl,
      healthy: registryPid !== undefined && (await registryAnswers(registryUrl)),
    });
    if (this.env.REDIS_URL) {
      statuses.push({ service: 'redis', managed: false, address: redactUrl(this.env.REDIS_URL), healthy: await redisAnswers(this.env.REDIS_URL) });
    } else {
      const redisPid = ownsProcess(state.redis?.pid, this.redisDir) ? state.redis?.pid : undefined;
      const address = state.redis ? redisUrlOf(state.redis.port) : '(never started)';
      const healthy = redisPid !== undefined && state.redis !== undefined && (await redisAnswers(redisUrlOf(state.redis.port, this.security.redisPassword)));
      statuses.push({ service: 'redis', managed: true, pid: redisPid, address, healthy });
    }
    const databaseUrl = this.env.DATABASE_URL ?? localDatabaseUrl;
    statuses.push({ service: 'postgres', managed: false, address: redactUrl(databaseUrl), healthy: await postgresAnswers(databaseUrl) });
    return statuses;
  }
}

function redisUrlOf(port: number, password?: string): string {
  return password === undefined ? `redis://127.0.0.1:${port}` : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
}

/** Keeps a port across restarts while it is free, so settings stay stable; else picks another. */
async function reusePort(previous: number | undefined, preferred: number, taken?: ReadonlySet<number>): Promise<number> {
  if (previous !== undefined && !taken?.has(previous) && (await isPortFree(previous))) return previous;
  return choosePort(preferred, taken);
}
