/**
 * `orderly stack up | down | status` without Docker: Kafka (KRaft), a Confluent-compatible schema registry
 * (Apicurio, storing in that Kafka) and, unless `REDIS_URL` is set, a private Redis run as detached local processes whose data, logs and settings live in the stack folder; PostgreSQL is
 * the one at `DATABASE_URL` or the machine's own. `up` is idempotent: what already runs and answers is kept.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { brokerAnswers, ensureKafkaJars, prepareBroker, startBroker, waitForBroker, type KafkaBrokerConfig } from './kafka-broker.ts';
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
import { readStackState, writeStackState, type StackState } from './stack-state.ts';

export type { StackState } from './stack-state.ts';

export interface ServiceStatus {
  service: 'kafka' | 'schema-registry' | 'redis' | 'postgres';
  /** Started by this stack (else external: given by an environment variable or the machine). */
  managed: boolean;
  pid?: number;
  address: string;
  healthy: boolean;
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
}

export const preferredPorts = { kafka: 19092, kafkaController: 19093, kafkaSasl: 19094, redis: 16379, registry: 18081 } as const;

export class LocalStack {
  readonly dir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  private readonly security: NonNullable<LocalStackOptions['security']>;

  constructor({ dir, env = process.env, log = () => undefined, security = {} }: LocalStackOptions) {
    this.dir = dir;
    this.env = env;
    this.log = log;
    this.security = security;
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
      state.kafka = await this.upKafka(state.kafka);
      this.writeState(state);
      state.registry = await this.upRegistry(state.registry, `127.0.0.1:${state.kafka.port}`);
      this.writeState(state);
      const redisUrl = await this.upRedis(state);
      this.writeState(state);
      const databaseUrl = this.env.DATABASE_URL ?? localDatabaseUrl;
      await requirePostgres(databaseUrl);
      const settings: StackSettings = {
        KAFKA_BROKERS: `127.0.0.1:${state.kafka.port}`,
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

  private async upRegistry(
    previous: StackState['registry'],
    kafkaBrokers: string,
  ): Promise<NonNullable<StackState['registry']>> {
    if (ownsProcess(previous?.pid, this.registryDir)) {
      this.log(`schema-registry: already running (pid ${previous.pid}) at ${registryUrlOf(previous.port)}`);
      await waitForSchemaRegistry(registryUrlOf(previous.port), previous.pid);
      return previous;
    }
    ensureRegistryJars(this.log);
    await createRegistryTopics(kafkaBrokers);
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
    const kafkaPid = ownsProcess(state.kafka?.pid, this.kafkaDir) ? state.kafka?.pid : undefined;
    const kafkaAddress = state.kafka ? `127.0.0.1:${state.kafka.port}` : '(never started)';
    const statuses: ServiceStatus[] = [
      {
        service: 'kafka',
        managed: true,
        pid: kafkaPid,
        address: kafkaAddress,
        healthy: kafkaPid !== undefined && (await brokerAnswers(kafkaAddress, { withGroupCoordinator: false })),
      },
    ];
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
