/**
 * Consumers: the ordered consumer (per-key lanes, offset tracking, idempotency, in-place retries, dead
 * letters). Built on `core/kafka-client.ts`; see DESIGN.md for the contract it keeps.
 */
export * from './ordered-consumer.ts';
export * from './options.ts';
export * from './events.ts';
export * from './ordering/ordering.ts';
export * from './idempotency/idempotency-store.ts';
export * from './idempotency/redis-idempotency-store.ts';
export * from './dead-letter/reason-codes.ts';
export * from './dead-letter/dead-letter-headers.ts';
export { deadLetterTopicOf } from './dead-letter/dead-letter-publisher.ts';
export * from './idempotency/postgres-inbox.ts';
