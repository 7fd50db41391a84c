/**
 * Runs a handler for one event: up to `1 + inPlaceRetries` attempts with jittered backoff, each cut at
 * `handlerTimeoutMs` (its AbortSignal fires). Never two attempts of one event at once: an attempt that timed
 * out and has not settled blocks the next one for up to another `handlerTimeoutMs`, and then the event is
 * given up as hung (it goes to the DLT as `handler-timeout`, with no further attempt anywhere).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../core/errors.ts';
import type { ConsumerEventEmitter } from './events.ts';
import type { HandledEvent, ValidOrderedConsumerOptions } from './options.ts';
import { backoffDelayMs } from './retries/backoff.ts';
import { isRetryableError } from './retries/retry-policy.ts';

export type AttemptsResult =
  | { ok: true; attempts: number; durationMs: number }
  | { ok: false; attempts: number; error: unknown; timedOut: boolean; hung: boolean };

export interface AttemptHooks {
  signal: AbortSignal;
  /** Waits between attempts; throws to abandon (partition revoked, consumer stopping). */
  pause(ms: number): Promise<void>;
  /** Before each attempt after the first (renews the idempotency lease). */
  beforeRetry(): Promise<void>;
}

export class HandlerAttempts<T> {
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly events: ConsumerEventEmitter;
  /** Attempts that timed out and still run, by event id. */
  private readonly unsettled = new Map<string, Promise<unknown>>();

  constructor(options: ValidOrderedConsumerOptions<T>, events: ConsumerEventEmitter) {
    this.options = options;
    this.events = events;
  }

  /** `reference` names the record as consumed (a retry tier's own topic and offset), for the events. */
  async run(event: HandledEvent<T>, attemptsBefore: number, hooks: AttemptHooks, reference: { topic: string; partition: number; offset: string }): Promise<AttemptsResult> {
    const { handlerTimeoutMs, inPlaceRetries } = this.options;
    for (let index = 1; ; index++) {
      const attempt = attemptsBefore + index;
      const previous = this.unsettled.get(event.eventId);
      if (previous) {
        const settled = await Promise.race([previous.then(() => true), sleep(handlerTimeoutMs, false)]);
        if (!settled) {
          const error = new OrderlyError('HANDLER_TIMEOUT', `the handler ignored its abort signal for ${handlerTimeoutMs} ms after timing out`);
          return { ok: false, attempts: index - 1, error, timedOut: true, hung: true };
        }
        this.unsettled.delete(event.eventId);
      }
      if (index > 1) await hooks.beforeRetry();
      const startedAt = performance.now();
      const controller = new AbortController();
      const onStop = () => controller.abort(hooks.signal.reason);
      hooks.signal.addEventListener('abort', onStop, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const running = Promise.resolve().then(() => this.options.handler(event, { signal: controller.signal, attempt }));
      const outcome = await Promise.race([
        running.then(
          () => ({ ok: true as const }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, handlerTimeoutMs, 'timeout'))),
      ]);
      clearTimeout(timer);
      hooks.signal.removeEventListener('abort', onStop);
      if (outcome !== 'timeout' && outcome.ok) return { ok: true, attempts: index, durationMs: performance.now() - startedAt };

      let error: unknown;
      const timedOut = outcome === 'timeout';
      if (outcome === 'timeout') {
        error = new OrderlyError('HANDLER_TIMEOUT', `the handler did not finish within handlerTimeoutMs (${handlerTimeoutMs} ms)`, { retriable: true });
        controller.abort(error);
        const settling = running.catch(() => undefined).finally(() => {
          if (this.unsettled.get(event.eventId) === settling) this.unsettled.delete(event.eventId);
        });
        this.unsettled.set(event.eventId, settling);
        this.events.emit('consumer.handler.timed-out', { ...reference, attempt, timeoutMs: handlerTimeoutMs });
      } else {
        error = outcome.error;
      }
      const retryInPlace = index <= inPlaceRetries && attempt < this.options.maxAttempts && isRetryableError(error, this.options.isRetryable);
      this.events.emit('consumer.record.failed', { ...reference, attempt, errorType: errorTypeOf(error), willRetry: retryInPlace });
      if (!retryInPlace) return { ok: false, attempts: index, error, timedOut, hung: false };
      await hooks.pause(backoffDelayMs(index, { baseMs: this.options.retryBackoffMs, maxMs: this.options.retryBackoffMaxMs, factor: 5 }));
    }
  }
}

export function errorTypeOf(error: unknown): string {
  if (error instanceof OrderlyError) return error.code;
  return error instanceof Error ? error.name : typeof error;
}

/** Type and message only: no payload, no stack in a log line. */
export function errorSummary(error: unknown): { type: string; message: string } | undefined {
  if (error === undefined) return undefined;
  return { type: errorTypeOf(error), message: error instanceof Error ? error.message : String(error) };
}
