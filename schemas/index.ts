/** Schemas: the Avro schemas of `schemas/avro/`, the registry client and the codec shared with consumers. */
export * from './decode-error.ts';
export * from './value-decoder.ts';
export * from './json-decoder.ts';
export * from './wire-format.ts';
export * from './avro-type.ts';
export * from './avro-value-scanner.ts';
export * from './forbidden-field-names.ts';
export * from './avro-codec.ts';
export * from './avro-codec-options.ts';
export * from './avro-encoder.ts';
export * from './schema-registry-client.ts';
export * from './schema-registry-error.ts';
export * from './subject-name-strategy.ts';
export * from './schema-compatibility.ts';
export * from './schema-directory.ts';
export * from './schema-contract.ts';
export * from './decimal-bytes.ts';
