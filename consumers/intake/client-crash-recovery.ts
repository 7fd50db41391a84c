/**
 * Watches the Kafka client's consumer for a crash. kafkajs stops consuming after an error it cannot retry (and
 * between its own restarts after one it can): it leaves the group and disconnects, and without a listener the
 * member would look healthy while nothing is fetched. On a crash this module reports it (an error log line,
 * the `consumer.client.crashed` event, `/readyz` failing through {@link health} until the member has joined
 * again), tells the member that it holds no partition any more, and then either lets kafkajs restart itself
 * (a retriable error), restarts it with a backoff (a non-retriable one, `restartOnCrash: true`), or has the
 * member stop with the error (`restartOnCrash: false`).
 *
 * A stall the member's {@link ClientLivenessWatch} saw (the client neither joined nor fetched for its timeout,
 * without crashing) is handled as a crash the member detected: reported the same way (`consumer.client.stalled`),
 * the client stopped (within a bound) and restarted with the backoff. A client that does not even stop within
 * that bound is beyond repair in this process: the member stops with `CLIENT_STALLED`, so that whatever
 * supervises the process starts a fresh one.
 *
 * Some crashes no restart cures, and the member stops on them whatever `restartOnCrash` says: a static member
 * fenced by the broker (another consumer joined with its `groupInstanceId`: rejoining would fence that one in
 * turn, and the two would take the partitions from each other for ever) stops with `INSTANCE_FENCED`; a
 * configuration the cluster refuses (an `OrderlyError` of code `CONFIGURATION`) stops with that error.
 */
import { OrderlyError } from '../../core/errors.ts';
import { isFencedInstanceError, type Consumer } from '../../core/kafka-client.ts';
import type { Logger } from '../../core/logger.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import type { ClientStall } from '../lifecycle/client-liveness-watch.ts';
import { within } from '../lifecycle/within.ts';

export interface ClientCrashRecoveryOptions {
  groupId: string;
  /** The member's `groupInstanceId`, when it is a static member. */
  groupInstanceId?: string;
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
  /** Stops the Kafka client's consumer (leaves the group, keeps the subscription): before a restart after a stall. */
  stopClient?(): Promise<void>;
  /** How long {@link stopClient} may take after a stall. @defaultValue 15000 */
  stopClientTimeoutMs?: number;
}

interface Down {
  since: number;
  errorType: string;
  message: string;
  restart: 'kafkajs' | 'member' | 'none';
  restartAt?: number;
  /** Set for a stall the member detected (no crash event). */
  stalled?: boolean;
  /** Why no restart can help, for a crash the member stops on whatever `restartOnCrash` says. */
  final?: string;
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
    const next = this.down.final ?? (
      restart === 'member' && restartAt === undefined
        ? 'stopping it before a restart'
        : restart === 'kafkajs' ? 'the Kafka client restarts it' : restart === 'member' ? `restart ${this.restarts} in ${Math.max(0, (restartAt ?? 0) - Date.now())} ms` : 'restartOnCrash is false: the member stops');
    const what = this.down.stalled ? 'stalled' : 'crashed';
    return { ready: false, reasons: [`group ${this.options.groupId}: the Kafka client consumer ${what} (${errorType}: ${message}); ${next}`] };
  }

  /** No more restarts (the member stops). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  /**
   * The client neither joined nor fetched for the watch's timeout: reported (error line, `consumer.client.stalled`,
   * not ready), the member forgets its partitions, the client is stopped and then restarted with the backoff
   * (`restartOnCrash: false`, or a client that does not stop in time: the member stops with `CLIENT_STALLED`).
   */
  stalled({ reason, stalledForMs }: ClientStall): void {
    if (this.down || !this.options.isRunning()) return;
    const restart = this.options.restartOnCrash ? 'member' : 'none';
    const message =
      reason === 'rebalance'
        ? `no join for ${stalledForMs} ms after a rebalance began, and no fetch`
        : reason === 'commit'
          ? `every commit for ${stalledForMs} ms refused by a group coordinator that is no longer one; only a new join finds the current one`
          : reason === 'transaction'
            ? 'a transaction of the emits failed and was aborted; the member starts again from the committed offsets'
            : `no fetch for ${stalledForMs} ms, and no rebalance`;
    this.down = { since: Date.now(), errorType: 'CLIENT_STALLED', message, restart, stalled: true };
    this.options.onClientLost();
    this.options.events.emit('consumer.client.stalled', { groupId: this.options.groupId, reason, stalledForMs, restart });
    const what = reason === 'transaction' ? message : `the Kafka client consumer stalled (${message}): ${reason === 'commit' ? 'nothing is committed' : 'nothing is fetched'}`;
    this.options.logger.error({ reason, stalledForMs, restart }, `${what}; stopping it${restart === 'member' ? ' and starting it again' : ''}`);
    const giveUp = (why: string) => {
      this.stop();
      this.options.onGiveUp(new OrderlyError('CLIENT_STALLED', `the Kafka client consumer of group ${this.options.groupId} stalled (${message}) and ${why}`));
    };
    if (restart === 'none') return giveUp('restartOnCrash is false');
    const timeoutMs = this.options.stopClientTimeoutMs ?? 15_000;
    void within(this.options.stopClient?.() ?? Promise.resolve(), timeoutMs).then(({ settled }) => {
      if (!this.options.isRunning() || this.down?.stalled !== true) return;
      if (!settled) {
        this.options.logger.error({ durationMs: timeoutMs }, 'the stalled Kafka client consumer did not stop in time: the member stops (CLIENT_STALLED) for its process to be started again');
        return giveUp(`did not stop within ${timeoutMs} ms`);
      }
      const restartInMs = this.backoffMs();
      this.down.restartAt = Date.now() + restartInMs;
      this.scheduleRestart(restartInMs);
    });
  }

  private onCrash(error: Error, kafkajsRestarts: boolean): void {
    const final = this.finalCrashOf(error);
    const errorType = final?.errorType ?? (error as { type?: string }).type ?? error.name;
    const running = this.options.isRunning();
    const restart = final ? 'none' : kafkajsRestarts ? 'kafkajs' : this.options.restartOnCrash && running ? 'member' : 'none';
    const restartInMs = restart === 'member' ? this.backoffMs() : undefined;
    this.down = { since: this.down?.since ?? Date.now(), errorType, message: error.message, restart, restartAt: restartInMs === undefined ? undefined : Date.now() + restartInMs, ...(final ? { final: final.reason } : {}) };
    this.options.onClientLost();
    if (!running) return;
    this.options.events.emit('consumer.client.crashed', { groupId: this.options.groupId, errorType, restart, ...(restartInMs === undefined ? {} : { restartInMs }) });
    if (final) {
      this.options.logger.error({ errorType, err: { message: error.message }, restart, groupInstanceId: this.options.groupInstanceId }, `the Kafka client consumer crashed and no restart can help: ${final.reason}`);
      this.stop();
      this.options.onGiveUp(final.error);
      return;
    }
    this.options.logger.error({ errorType, err: { message: error.message }, restart, restartInMs }, 'the Kafka client consumer crashed and left the group: nothing is fetched until it restarts');
    if (restart === 'member') this.scheduleRestart(restartInMs!);
    else if (restart === 'none') {
      this.stop();
      this.options.onGiveUp(new OrderlyError('CLIENT_CRASHED', `the Kafka client consumer of group ${this.options.groupId} crashed (${errorType}: ${error.message}) and restartOnCrash is false`, { cause: error }));
    }
  }

  /** A crash no restart cures (see the module comment): what to report and the error to stop with. */
  private finalCrashOf(error: Error): { errorType?: string; reason: string; error: OrderlyError } | undefined {
    const { groupId, groupInstanceId } = this.options;
    if (isFencedInstanceError(error)) {
      const reason = `fenced: another consumer joined group ${groupId} with groupInstanceId "${groupInstanceId ?? '?'}" and took this member's place; two live members must not share one id; the member stops`;
      return { errorType: 'FENCED_INSTANCE_ID', reason, error: new OrderlyError('INSTANCE_FENCED', `the broker fenced this member of group ${groupId}: another consumer joined with groupInstanceId "${groupInstanceId ?? '?'}"`, { cause: error }) };
    }
    for (let cause: unknown = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
      if (cause instanceof OrderlyError && cause.code === 'CONFIGURATION') return { reason: `${cause.message}; the member stops`, error: cause };
    }
    return undefined;
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
