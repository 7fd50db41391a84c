/**
 * Watches the Kafka client's consumer for a crash. kafkajs stops consuming after an error it cannot retry (and
 * between its own restarts after one it can): it leaves the group and disconnects, and without a listener the
 * member would look healthy while nothing is fetched. On a crash this module reports it (an error log line,
 * the `consumer.client.crashed` event, `/readyz` failing through {@link health} until the member has joined
 * again), tells the member that it holds no partition any more, and then either lets kafkajs restart itself
 * (a retriable error), restarts it with a backoff (a non-retriable one, `restartOnCrash: true`), or has the
 * member stop with the error (`restartOnCrash: false`).
 */
import { OrderlyError } from '../../core/errors.ts';
import type { Consumer } from '../../core/kafka-client.ts';
import type { Logger } from '../../core/logger.ts';
import type { ConsumerEventEmitter } from '../events.ts';

export interface ClientCrashRecoveryOptions {
  groupId: string;
  restartOnCrash: boolean;
  consumer: Consumer;
  logger: Logger;
  events: ConsumerEventEmitter;
  /** Starts the Kafka client's consumer again: connect, then run (its subscription is kept). */
  restart(): Promise<void>;
  /** The client left the group: the member forgets every partition it held. */
  onClientLost(): void;
  /** `restartOnCrash: false`: the member stops, failing with `error`. */
  onGiveUp(error: OrderlyError): void;
  /** True while the member runs (no restart once it stops). */
  isRunning(): boolean;
}

interface Down {
  since: number;
  errorType: string;
  message: string;
  restart: 'kafkajs' | 'member' | 'none';
  restartAt?: number;
}

/** The first restart waits this long; each failed one doubles it, up to {@link maxBackoffMs}. */
const initialBackoffMs = 1_000;
const maxBackoffMs = 30_000;

export class ClientCrashRecovery {
  private readonly options: ClientCrashRecoveryOptions;
  private down: Down | undefined;
  private restarts = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;

  constructor(options: ClientCrashRecoveryOptions) {
    this.options = options;
    this.unsubscribe = options.consumer.on(options.consumer.events.CRASH, ({ payload }) => this.onCrash(payload.error, payload.restart));
  }

  /** True between a crash and the next join: the Kafka client's consumer is not running. */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** The member joined its group: the client runs again. */
  joined(): void {
    if (this.down) this.options.logger.info({ downForMs: Date.now() - this.down.since, restarts: this.restarts }, 'the Kafka client consumer is running again after its crash');
    this.down = undefined;
    this.restarts = 0;
  }

  /** Not ready from a crash until the next join. */
  health(): { ready: boolean; reasons: string[] } {
    if (!this.down) return { ready: true, reasons: [] };
    const { errorType, message, restart, restartAt } = this.down;
    const next =
      restart === 'kafkajs' ? 'the Kafka client restarts it' : restart === 'member' ? `restart ${this.restarts} in ${Math.max(0, (restartAt ?? 0) - Date.now())} ms` : 'restartOnCrash is false: the member stops';
    return { ready: false, reasons: [`group ${this.options.groupId}: the Kafka client consumer crashed (${errorType}: ${message}); ${next}`] };
  }

  /** No more restarts (the member stops). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  private onCrash(error: Error, kafkajsRestarts: boolean): void {
    const errorType = (error as { type?: string }).type ?? error.name;
    const running = this.options.isRunning();
    const restart = kafkajsRestarts ? 'kafkajs' : this.options.restartOnCrash && running ? 'member' : 'none';
    const restartInMs = restart === 'member' ? this.backoffMs() : undefined;
    this.down = { since: this.down?.since ?? Date.now(), errorType, message: error.message, restart, restartAt: restartInMs === undefined ? undefined : Date.now() + restartInMs };
    this.options.onClientLost();
    if (!running) return;
    this.options.events.emit('consumer.client.crashed', { groupId: this.options.groupId, errorType, restart, ...(restartInMs === undefined ? {} : { restartInMs }) });
    this.options.logger.error({ errorType, err: { message: error.message }, restart, restartInMs }, 'the Kafka client consumer crashed and left the group: nothing is fetched until it restarts');
    if (restart === 'member') this.scheduleRestart(restartInMs!);
    else if (restart === 'none') {
      this.stop();
      this.options.onGiveUp(new OrderlyError('CLIENT_CRASHED', `the Kafka client consumer of group ${this.options.groupId} crashed (${errorType}: ${error.message}) and restartOnCrash is false`, { cause: error }));
    }
  }

  private backoffMs(): number {
    const base = Math.min(maxBackoffMs, initialBackoffMs * 2 ** this.restarts);
    this.restarts++;
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private scheduleRestart(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.options.isRunning()) return;
      // A failed join comes back as another crash (kafkajs reports it through the same event); a failed connect here.
      this.options.restart().catch((error: unknown) => {
        if (!this.options.isRunning()) return;
        const nextMs = this.backoffMs();
        if (this.down) this.down.restartAt = Date.now() + nextMs;
        this.options.logger.error({ err: { message: (error as Error).message }, restartInMs: nextMs }, 'restarting the Kafka client consumer failed; trying again');
        this.scheduleRestart(nextMs);
      });
    }, delayMs);
  }
}
