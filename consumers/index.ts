/**
 * Consumers: the ordered consumer (per-key lanes, offset tracking, idempotency, in-place retries, dead
 * letters). Built on `core/kafka-client.ts`; see docs/guarantees.md for the contract it keeps.
 */
export * from './ordered-consumer.ts';
export * from './options.ts';
export * from './events.ts';
export * from './ordering/ordering.ts';
export * from './idempotency/idempotency-store.ts';
export * from './idempotency/redis-idempotency-store.ts';
export * from './dead-letter/reason-codes.ts';
export * from './dead-letter/dead-letter-headers.ts';
export * from './retries/topic-layout.ts';
export * from './retries/parking-store.ts';
export * from './retries/redis-parking-store.ts';
export * from './retries/memory-parking-store.ts';
export * from './retries/change-parked-key.ts';
export * from './ordering/copartitioned-assigner.ts';
export * from './idempotency/postgres-inbox.ts';
export * from './delays/cancellation-store.ts';
export * from './delays/delay-levels.ts';
export * from './delays/delay-headers.ts';
export * from './routing/event-router.ts';
export * from './emit/attempt-emits.ts';
