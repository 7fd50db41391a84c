/**
 * Orderly: ordered, idempotent event processing on Apache Kafka. The root entry holds what a service needs to
 * consume and produce (the core client and errors, the ordered consumer, the event producer, the Avro codec, the transactional outbox);
 * `orderly/observability` and `orderly/operations` hold the metrics, probes and dead-letter tools.
 * The contract the consumer keeps is in docs/guarantees.md.
 */
export * from './core/index.ts';
export * from './consumers/index.ts';
export * from './producers/index.ts';
export * from './schemas/index.ts';
export * from './outbox/index.ts';
