/** What a caller publishes, and what the producer reports for each event the broker acknowledged. */
import type { AvroSchemaInput } from '../schemas/avro-type.ts';

export interface OutgoingEvent<V = unknown> {
  /** @defaultValue the producer's `topic` option */
  topic?: string;
  /** The entity id (account id, order id): required, never empty. Kafka partitions by it (murmur2). */
  key: string | Buffer;
  /** The Avro schema of the value: an avsc Type, a schema object or `.avsc` text (parsed once per object). */
  schema: AvroSchemaInput;
  value: V;
  /** @defaultValue the full name of the schema's record */
  type?: string;
  /** @defaultValue a new UUIDv7 */
  eventId?: string;
  /** @defaultValue now */
  occurredAt?: Date;
  /** Extra headers; they cannot replace an envelope header. */
  headers?: Record<string, string | Buffer>;
}

export interface PublishedEvent {
  eventId: string;
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a string. */
  offset: string;
}
