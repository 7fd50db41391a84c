export * from './errors.ts';
export * from './logger.ts';
export * from './kafka-client.ts';
