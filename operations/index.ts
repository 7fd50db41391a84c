/** Operator tools: read, filter, replay and purge dead letters (the `orderly dlt` commands), declare and check topics (`orderly topics`). */
export * from './dlt-filter.ts';
export * from './dlt-payload-decoder.ts';
export * from './dlt-purger.ts';
export * from './dlt-rate-limiter.ts';
export * from './dlt-reader.ts';
export * from './dlt-record.ts';
export * from './dlt-replay-store.ts';
export * from './dlt-replayer.ts';
export * from './topic-settings.ts';
export * from './topic-declaration.ts';
export * from './parked-key-release.ts';
export * from './dlt-replay-preparation.ts';
