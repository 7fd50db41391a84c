/** What the consumer needs of a decoder: the Avro codec, JSON or raw bytes plug in here. */
export interface DecodeContext {
  /** The topic the record was first produced to (a retry tier passes its origin), which names its subject. */
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a string. */
  offset: string;
}

export interface ValueDecoder<T = unknown> {
  /**
   * Decodes one record's value. Bad input throws only {@link DecodeError} (non-retryable, to the DLT). A
   * dependency that is down (the schema registry) throws a retriable `OrderlyError` (code `SCHEMA_REGISTRY`)
   * instead: an outage is retried, never dead-lettered.
   */
  decode(value: Buffer | null, context: DecodeContext): Promise<T> | T;
  /**
   * Checks the decoder's dependencies once, when the consumer starts (the Avro codec: the registry URL serves
   * the registry API). A misconfiguration throws and the consumer does not start.
   */
  verify?(): Promise<void>;
}
