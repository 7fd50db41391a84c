/** Schemas: the Avro schemas of `schemas/avro/`, the registry client and the codec shared with consumers. */
export {};
