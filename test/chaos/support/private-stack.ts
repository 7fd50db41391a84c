/**
 * A private stack for the scenarios that kill the broker, the schema registry or Redis: its own Kafka, Apicurio
 * registry and redis-server (AOF on) on free ports in a temporary folder, never the shared stack's. PostgreSQL
 * stays the machine's (`DATABASE_URL` of the shared settings). `restart()` brings a killed or stopped service
 * back on the same data and ports; `down()` (always, in a finally) stops everything and deletes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack, type KafkaNodeState, type LocalStackOptions } from '../../../infra/stack/local-stack.ts';
import { isAlive } from '../../../infra/stack/process-control.ts';
import type { StackSettings } from '../../../infra/stack/stack-settings.ts';
import { sleep } from './chaos-run.ts';

export type StackService = 'kafka' | 'registry' | 'redis';

export class PrivateStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'orderly-chaos-stack-'));
  private readonly stack: LocalStack;
  settings!: StackSettings;

  constructor(shared: StackSettings, log: (line: string) => void = () => undefined, security?: LocalStackOptions['security'], brokers?: number) {
    const env: NodeJS.ProcessEnv = { ...process.env, ORDERLY_STACK_DIR: this.dir, DATABASE_URL: shared.DATABASE_URL };
    delete env.REDIS_URL; // a private redis-server, never the shared one
    delete env.KAFKA_BROKERS;
    delete env.SCHEMA_REGISTRY_URL;
    this.stack = new LocalStack({ dir: this.dir, env, log, security, brokers });
  }

  async up(): Promise<StackSettings> {
    this.settings = await this.stack.up();
    return this.settings;
  }

  /** The broker's SASL_PLAINTEXT (SCRAM) listener, when the stack was built with Kafka users. */
  saslBroker(): string {
    const port = this.stack.readState().kafka?.saslPort;
    if (port === undefined) throw new Error('the private stack has no SASL listener (pass security.kafkaUsers)');
    return `127.0.0.1:${port}`;
  }

  pid(service: StackService): number {
    const pid = this.stack.readState()[service]?.pid;
    if (pid === undefined || !isAlive(pid)) throw new Error(`the private stack's ${service} is not running`);
    return pid;
  }

  /** Sends `signal` to the service; for SIGKILL and SIGTERM, waits until the process is gone. */
  async signal(service: StackService, signal: NodeJS.Signals): Promise<number> {
    const pid = this.pid(service);
    process.kill(pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const deadline = Date.now() + 60_000;
      while (isAlive(pid)) {
        if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
        await sleep(100);
      }
    }
    return pid;
  }

  /** The Kafka nodes of a three-node stack (`brokers: 3`), with their pids while they run. */
  nodes(): KafkaNodeState[] {
    const nodes = this.stack.readState().kafkaCluster?.nodes;
    if (!nodes) throw new Error('the private stack has no multi-node Kafka (pass brokers: 3)');
    return nodes;
  }

  nodePid(nodeId: number): number {
    const pid = this.nodes().find((node) => node.nodeId === nodeId)?.pid;
    if (pid === undefined || !isAlive(pid)) throw new Error(`kafka node ${nodeId} of the private stack is not running`);
    return pid;
  }

  /** Sends `signal` to Kafka node `nodeId`; for SIGKILL and SIGTERM, waits until the process is gone. */
  async signalNode(nodeId: number, signal: NodeJS.Signals): Promise<number> {
    const pid = this.nodePid(nodeId);
    process.kill(pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const deadline = Date.now() + 60_000;
      while (isAlive(pid)) {
        if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
        await sleep(100);
      }
    }
    return pid;
  }

  /** Brings back the given Kafka nodes only (same data and ports); returns how long until they answered. */
  startNodes(nodeIds: readonly number[]): Promise<number> {
    return this.stack.startKafkaNodes(nodeIds);
  }

  /** Starts what is not running (same data, same ports) and waits until it answers; returns how long it took. */
  async restart(): Promise<number> {
    const startedAt = Date.now();
    await this.up();
    return Date.now() - startedAt;
  }

  async down(): Promise<void> {
    for (const service of ['kafka', 'registry', 'redis'] as const) {
      const pid = this.stack.readState()[service]?.pid;
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGCONT'); // a frozen process cannot stop
    }
    for (const { pid } of this.stack.readState().kafkaCluster?.nodes ?? []) if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGCONT');
    await this.stack.down({ purge: true }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
