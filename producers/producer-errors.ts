import { OrderlyError, type ErrorContext } from '../core/errors.ts';

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
