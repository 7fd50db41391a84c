/**
 * A private Kafka broker alone (no registry, no Redis), for the scenarios that freeze or kill only the broker:
 * KRaft on free ports in a temporary folder, never the shared stack's. `down()` (always, in a finally) thaws
 * it, stops it and deletes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { choosePort } from '../../../infra/stack/free-port.ts';
import { ensureKafkaJars, prepareBroker, startBroker, waitForBroker, type KafkaBrokerConfig } from '../../../infra/stack/kafka-broker.ts';
import { isAlive, stopProcess } from '../../../infra/stack/process-control.ts';

export class PrivateBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'orderly-chaos-broker-'));
  private config: KafkaBrokerConfig | undefined;
  private pid: number | undefined;

  /** Starts the broker and waits until it answers; returns its bootstrap address. */
  async up(log: (line: string) => void = () => undefined): Promise<string> {
    ensureKafkaJars(log);
    const port = await choosePort(29_092);
    const controllerPort = await choosePort(29_093, new Set([port]));
    this.config = { dir: join(this.dir, 'kafka'), port, controllerPort };
    prepareBroker(this.config);
    this.pid = startBroker(this.config);
    await waitForBroker(this.config, this.pid);
    return this.address;
  }

  get address(): string {
    if (!this.config) throw new Error('the private broker is not started');
    return `127.0.0.1:${this.config.port}`;
  }

  /** SIGSTOP (frozen: connections stay open, nothing answers) or SIGCONT. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): number {
    if (this.pid === undefined || !isAlive(this.pid)) throw new Error('the private broker is not running');
    process.kill(this.pid, signal);
    return this.pid;
  }

  async down(): Promise<void> {
    if (this.pid !== undefined && isAlive(this.pid)) {
      process.kill(this.pid, 'SIGCONT'); // a frozen process cannot stop
      await stopProcess(this.pid, 20_000);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
