/** Producers: the keyed, Avro-encoding event producer. Built on `core/kafka-client.ts`. */
export {};
