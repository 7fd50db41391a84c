/**
 * Takes one record from fetched to completed: key check, decode, idempotency claim, handler attempts with a
 * timeout and jittered backoff, then done, skipped as a duplicate, or forwarded to the DLT. Never two attempts
 * of one event at once. A forward that fails is retried until it succeeds or the record is abandoned (the
 * partition was revoked or the consumer stops); an abandoned record is not completed, so it is not committed.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { NonRetryableError, OrderlyError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DecodeError } from '../schemas/decode-error.ts';
import { readHeaders, type ConsumedRecord } from './consumed-record.ts';
import type { DeadLetterPublisher } from './dead-letter/dead-letter-publisher.ts';
import type { DeadLetterReason } from './dead-letter/reason-codes.ts';
import type { ConsumerEventEmitter } from './events.ts';
import type { HandledEvent, ValidOrderedConsumerOptions } from './options.ts';
import { backoffDelayMs } from './retries/backoff.ts';

export type RecordOutcome = 'handled' | 'duplicate' | 'dead-lettered' | 'fenced' | 'abandoned';

/** Whether the record still belongs to this member's current assignment, and the stop signal. */
export interface RecordLiveness {
  isCurrent(): boolean;
  signal: AbortSignal;
}

const eventIdHeader = 'orderly-event-id';
const eventTypeHeader = 'orderly-event-type';
const maxEventIdLength = 200;

class Abandoned extends Error {}

export class RecordProcessor<T> {
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly events: ConsumerEventEmitter;
  private readonly logger: Logger;
  private readonly fencingToken: () => string;

  constructor(
    options: ValidOrderedConsumerOptions<T>,
    deps: { deadLetters: DeadLetterPublisher; events: ConsumerEventEmitter; logger: Logger; fencingToken: () => string },
  ) {
    this.options = options;
    this.deadLetters = deps.deadLetters;
    this.events = deps.events;
    this.logger = deps.logger;
    this.fencingToken = deps.fencingToken;
  }

  async process(record: ConsumedRecord, live: RecordLiveness): Promise<RecordOutcome> {
    try {
      return await this.processOrAbandon(record, live);
    } catch (error) {
      if (error instanceof Abandoned) return 'abandoned';
      throw error;
    }
  }

  private async processOrAbandon(record: ConsumedRecord, live: RecordLiveness): Promise<RecordOutcome> {
    const firstFailureAt = Date.now();
    if (this.options.ordering !== 'none' && (record.key === null || record.key.length === 0)) {
      return this.deadLetter(record, live, { reason: 'missing-key', attempt: 0, firstFailureAt });
    }
    const headers = readHeaders(record.headers);
    const decoded = await this.decode(record, live);
    if ('reason' in decoded) return this.deadLetter(record, live, { ...decoded, attempt: 0, firstFailureAt });

    const event: HandledEvent<T> = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key === null ? null : record.key.toString('utf8'),
      value: decoded.value,
      eventId: eventIdOf(record, headers),
      eventType: headers[eventTypeHeader],
      headers,
      timestamp: record.timestamp,
      payloadHash: createHash('sha256').update(record.value ?? Buffer.alloc(0)).digest('base64url').slice(0, 22),
    };
    const payloadHash = event.payloadHash;
    const store = this.options.idempotencyStore;
    let token: string | undefined;
    if (store) {
      const claim = await this.claim(event.eventId, payloadHash, live);
      if (claim === 'done') {
        this.events.emit('consumer.record.skipped-duplicate', ref(record));
        return 'duplicate';
      }
      if (claim === 'conflict') return this.deadLetter(record, live, { reason: 'id-conflict', attempt: 0, firstFailureAt });
      token = claim;
    }

    let result: Awaited<ReturnType<RecordProcessor<T>['attempts']>>;
    try {
      result = await this.attempts(event, record, live, token, payloadHash);
    } catch (error) {
      // Abandoned mid-retry: give the claim up so the next owner need not wait out the lease.
      if (store && token) await store.release(event.eventId, token).catch(() => undefined);
      throw error;
    }
    if (result.outcome === 'handled') {
      if (store && token && (await store.complete(event.eventId, token, payloadHash)) === 'fenced') {
        this.logger.warn({ ...logFields(record), eventId: event.eventId, status: 'fenced' }, 'claim lost before completion');
        this.events.emit('consumer.record.fenced', ref(record));
        return 'fenced';
      }
      return 'handled';
    }
    const outcome = await this.deadLetter(record, live, { reason: result.reason, attempt: result.attempt, firstFailureAt, error: result.error });
    // A dead-lettered event is completed too: a redelivery must not handle it again.
    if (store && token) await store.complete(event.eventId, token, payloadHash);
    return outcome;
  }

  private async decode(record: ConsumedRecord, live: RecordLiveness): Promise<{ value: T } | { reason: DeadLetterReason; error: unknown }> {
    const decoder = this.options.decoder;
    if (!decoder) return { value: record.value as T };
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await decoder.decode(record.value, record) };
      } catch (error) {
        if (error instanceof DecodeError) {
          return { reason: error.reason === 'schema-not-found' ? 'schema-not-found' : 'decode-error', error };
        }
        if (error instanceof OrderlyError && error.retriable) {
          // The registry is down: not the record's fault. Wait, never dead-letter for it.
          this.logger.warn({ ...logFields(record), attempt, err: error }, 'decoder unavailable; retrying');
          await this.pause(backoffDelayMs(attempt, { baseMs: 200, maxMs: 10_000 }), live);
          continue;
        }
        return { reason: 'decode-error', error };
      }
    }
  }

  /** Claims the event, waiting while another holder's lease is alive. Returns the token, or the verdict. */
  private async claim(eventId: string, payloadHash: string, live: RecordLiveness): Promise<string | 'done' | 'conflict'> {
    const store = this.options.idempotencyStore!;
    for (;;) {
      const result = await store.claim({ eventId, payloadHash, fencingToken: this.fencingToken(), leaseMs: this.options.leaseMs });
      if (result.status === 'claimed') return result.token;
      if (result.status === 'done' || result.status === 'conflict') return result.status;
      await this.pause(Math.min(result.retryAfterMs, 1_000), live);
    }
  }

  private async attempts(
    event: HandledEvent<T>,
    record: ConsumedRecord,
    live: RecordLiveness,
    token: string | undefined,
    payloadHash: string,
  ): Promise<{ outcome: 'handled' } | { outcome: 'failed'; reason: DeadLetterReason; attempt: number; error: unknown }> {
    const { handlerTimeoutMs, maxAttempts } = this.options;
    let unsettled: Promise<unknown> | undefined;
    for (let attempt = 1; ; attempt++) {
      if (unsettled) {
        // The previous attempt timed out and may still run: never start a second one beside it.
        const settled = await Promise.race([unsettled.then(() => true), sleep(handlerTimeoutMs, false)]);
        if (!settled) {
          return { outcome: 'failed', reason: 'handler-timeout', attempt: attempt - 1, error: new OrderlyError('HANDLER_TIMEOUT', `the handler ignored its abort signal for ${handlerTimeoutMs} ms after timing out`) };
        }
        unsettled = undefined;
      }
      if (token && attempt > 1) await this.options.idempotencyStore!.claim({ eventId: event.eventId, payloadHash, fencingToken: token, leaseMs: this.options.leaseMs });
      const startedAt = performance.now();
      const controller = new AbortController();
      const onStop = () => controller.abort(live.signal.reason);
      live.signal.addEventListener('abort', onStop, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const running = Promise.resolve().then(() => this.options.handler(event, { signal: controller.signal, attempt }));
      const result = await Promise.race([
        running.then(
          () => ({ ok: true as const }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, handlerTimeoutMs, 'timeout'))),
      ]);
      clearTimeout(timer);
      live.signal.removeEventListener('abort', onStop);
      if (result !== 'timeout' && result.ok) {
        this.events.emit('consumer.record.handled', { ...ref(record), durationMs: performance.now() - startedAt, attempt });
        return { outcome: 'handled' };
      }
      let error: unknown;
      if (result === 'timeout') {
        error = new OrderlyError('HANDLER_TIMEOUT', `the handler did not finish within handlerTimeoutMs (${handlerTimeoutMs} ms)`, { retriable: true });
        controller.abort(error);
        unsettled = running.catch(() => undefined);
        this.events.emit('consumer.handler.timed-out', { ...ref(record), attempt, timeoutMs: handlerTimeoutMs });
      } else {
        error = result.error;
      }
      if (error instanceof OrderlyError && error.code === 'ID_CONFLICT') return { outcome: 'failed', reason: 'id-conflict', attempt, error };
      const retryable = !(error instanceof NonRetryableError) && !(error instanceof OrderlyError && error.code === 'NON_RETRYABLE');
      const willRetry = retryable && attempt < maxAttempts;
      this.events.emit('consumer.record.failed', { ...ref(record), attempt, errorType: errorTypeOf(error), willRetry });
      this.logger.warn({ ...logFields(record), eventId: event.eventId, attempt, status: willRetry ? 'retrying' : 'failed', err: errorSummary(error) }, 'handler failed');
      if (!retryable) return { outcome: 'failed', reason: 'non-retryable', attempt, error };
      if (!willRetry) return { outcome: 'failed', reason: result === 'timeout' ? 'handler-timeout' : 'retries-exhausted', attempt, error };
      await this.pause(backoffDelayMs(attempt, { baseMs: this.options.retryBackoffMs, maxMs: this.options.retryBackoffMaxMs }), live);
    }
  }

  /** Forwards to the DLT, retrying a failed forward with backoff; never skips. */
  private async deadLetter(
    record: ConsumedRecord,
    live: RecordLiveness,
    failure: { reason: DeadLetterReason; attempt: number; firstFailureAt: number; error?: unknown },
  ): Promise<RecordOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deadLetters.forward(record, failure);
        break;
      } catch (error) {
        this.events.emit('consumer.forward.failed', { ...ref(record), errorType: errorTypeOf(error) });
        this.logger.error({ ...logFields(record), attempt, err: errorSummary(error) }, 'forward to the dead-letter topic failed; the partition waits at this record');
        await this.pause(backoffDelayMs(attempt, { baseMs: 500, maxMs: 30_000 }), live);
      }
    }
    this.events.emit('consumer.record.dead-lettered', { ...ref(record), reason: failure.reason });
    this.logger.error({ ...logFields(record), attempt: failure.attempt, status: 'dead-lettered', reason: failure.reason, err: errorSummary(failure.error) }, 'event dead-lettered');
    return 'dead-lettered';
  }

  /** Waits, unless the record stops being this member's or the consumer stops: then it is abandoned. */
  private async pause(ms: number, live: RecordLiveness): Promise<void> {
    if (!live.isCurrent() || live.signal.aborted) throw new Abandoned();
    await sleep(ms, undefined, { signal: live.signal }).catch(() => undefined);
    if (!live.isCurrent() || live.signal.aborted) throw new Abandoned();
  }
}

function eventIdOf(record: ConsumedRecord, headers: Record<string, string>): string {
  const given = headers[eventIdHeader];
  return given && given.length <= maxEventIdLength ? given : `${record.topic}:${record.partition}:${record.offset}`;
}

function ref(record: ConsumedRecord) {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

function logFields(record: ConsumedRecord) {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

function errorTypeOf(error: unknown): string {
  if (error instanceof OrderlyError) return error.code;
  return error instanceof Error ? error.name : typeof error;
}

/** Type and message only: no payload, no stack in the log line. */
function errorSummary(error: unknown): { type: string; message: string } | undefined {
  if (error === undefined) return undefined;
  return { type: errorTypeOf(error), message: error instanceof Error ? error.message : String(error) };
}
