/**
 * Transactional outbox (PostgreSQL): {@link OutboxWriter} adds events inside the caller's transaction,
 * {@link OutboxRelay} publishes the committed ones through an EventProducer, per key in commit order.
 * Design and operations: docs/outbox.md.
 */
export * from './outbox-writer.ts';
export * from './outbox-relay.ts';
export * from './outbox-options.ts';
export * from './outbox-table.ts';
export * from './outbox-status.ts';
export * from './outbox-metrics.ts';
export * from './key-hash.ts';
