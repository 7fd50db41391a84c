/** Producers: the keyed, Avro-encoding event producer. Built on `core/kafka-client.ts`. */
export * from './event-producer.ts';
export * from './options.ts';
export * from './envelope-headers.ts';
export * from './producer-errors.ts';
export * from './in-flight-limiter.ts';
export * from './token-bucket.ts';
export * from './trace-parent.ts';
export * from './event-id.ts';
export * from './outgoing-event.ts';
export * from './delivery-time.ts';
