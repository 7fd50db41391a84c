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

/**
 * An event whose value is already encoded in the Confluent wire format (schema id + Avro body), as the
 * transactional outbox stores it: encoded and checked against the registry when it was written, so the relay
 * publishes it as it is, with the id, type and time it was given then.
 */
export interface EncodedOutgoingEvent {
  topic: string;
  /** The entity id: required, never empty. */
  key: string | Buffer;
  /** The wire-format value (magic byte, schema id, Avro body). */
  value: Buffer;
  /** The `orderly-event-type` header. */
  type: string;
  eventId: string;
  occurredAt: Date;
  /** W3C trace context of the writer, when it had one. */
  traceparent?: string;
  /** Extra headers; they cannot replace an envelope header. */
  headers?: Record<string, string | Buffer>;
}
