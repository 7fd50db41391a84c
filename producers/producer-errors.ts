import { OrderlyError, type ErrorContext } from '../core/errors.ts';
import type { OutgoingEvent, PublishedEvent } from './outgoing-event.ts';

/** An event without a key: refused before anything is sent (docs/guarantees.md: producers key every event). */
export class MissingKeyError extends OrderlyError {
  constructor(context: ErrorContext = {}) {
    super('MISSING_KEY', `an event for topic ${context.topic ?? '(unknown)'} has no key: give every event its entity id as key (an account id, an order id) so that per-key order holds`, { context });
  }
}

/** The producer's in-flight bound is reached and `onFull` is `'reject'`. Retriable: try again later. */
export class BackpressureError extends OrderlyError {
  constructor(requested: number, inFlight: number, maxInFlight: number) {
    super('BACKPRESSURE', `${requested} more event(s) would exceed maxInFlight (${inFlight} of ${maxInFlight} in flight): wait for publishes to complete, or use onFull: 'wait'`, { retriable: true });
  }
}

/** The producer's rate limit has no tokens for the publish and `rateLimit.onLimit` is `'reject'`. Retriable. */
export class RateLimitError extends OrderlyError {
  constructor(requested: number, available: number, eventsPerSecond: number) {
    super('BACKPRESSURE', `${requested} event(s) exceed the producer's rate limit (${eventsPerSecond} events/s, ${Math.floor(available)} token(s) left): publish more slowly, or use rateLimit.onLimit: 'wait'`, { retriable: true });
  }
}

/**
 * A batch (or part of one) was not written. Publishing stops at the first chunk that fails: `written` holds the
 * events acknowledged before it (with their offsets), `notWritten` every event after them, in order, each with
 * the `eventId` and `occurredAt` it was sent with, so `publishBatch(error.notWritten)` retries with the same ids
 * (a consumer drops a duplicate by id). The first `unconfirmed` of `notWritten` were sent and not acknowledged:
 * the broker may have written them; the rest were never sent. `code` and `retriable` are the cause's.
 */
export class PublishBatchError<V = unknown> extends OrderlyError {
  readonly written: PublishedEvent[];
  readonly notWritten: OutgoingEvent<V>[];
  readonly unconfirmed: number;

  constructor(written: PublishedEvent[], notWritten: OutgoingEvent<V>[], unconfirmed: number, cause: unknown) {
    const code = cause instanceof OrderlyError ? cause.code : 'KAFKA';
    const retriable = cause instanceof OrderlyError ? cause.retriable : true;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      code,
      `${notWritten.length} event(s) of the batch were not written (${written.length} written before the failure${unconfirmed > 0 ? `; ${unconfirmed} sent and not acknowledged` : ''}): ${reason}. Retry error.notWritten: the events keep their ids`,
      { cause, retriable },
    );
    this.written = written;
    this.notWritten = notWritten;
    this.unconfirmed = unconfirmed;
  }
}

