/** Schemas: the Avro schemas of `schemas/avro/`, the registry client and the codec shared with consumers. */
export * from './decode-error.ts';
export * from './value-decoder.ts';
export * from './json-decoder.ts';
