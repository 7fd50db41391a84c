export * from './errors.ts';
export * from './logger.ts';
export * from './kafka-client.ts';
export * from './compression/compression.ts';
export { undecodableBatchOf, type UndecodableBatch } from './compression/undecodable-batch.ts';
export { registerCompressionCodecs, maxDecompressedBatchBytes } from './compression/register-compression-codecs.ts';
