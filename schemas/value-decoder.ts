/** What the consumer needs of a decoder: the Avro codec, JSON or raw bytes plug in here. */
export interface DecodeContext {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a string. */
  offset: string;
}

export interface ValueDecoder<T = unknown> {
  /** Decodes one record's value; throws only {@link DecodeError}. */
  decode(value: Buffer | null, context: DecodeContext): Promise<T> | T;
}
