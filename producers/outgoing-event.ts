/** What a caller publishes, and what the producer reports for each event the broker acknowledged. */
import type { IHeaders } from '../core/kafka-client.ts';
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
  /**
   * A delayed event: written now, handed to a consumer's handler no earlier than this (docs/scheduling.md,
   * "Delayed events"), in order with its key's other events. Give this or `delayMs`. @defaultValue none: due at once
   */
  deliverAt?: Date | number;
  /** A delayed event due this many ms after it is published. @defaultValue none */
  delayMs?: number;
}

/** When a published event may be handled: `publish(event, { deliverAt })` or `{ delayMs }`. */
export interface DeliveryOptions {
  deliverAt?: Date | number;
  delayMs?: number;
}

/** What `cancel` needs to reach the consumer of a delayed event: its id, and its key (the cancel record goes to the event's partition). */
export interface CancelRequest {
  eventId: string;
  key: string | Buffer;
  /** @defaultValue the producer's `topic` option */
  topic?: string;
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
  /** W3C `tracestate` of the writer (sent only with a `traceparent`). */
  tracestate?: string;
  /** Extra headers; they cannot replace an envelope header. */
  headers?: Record<string, string | Buffer>;
}

/**
 * An event as the producer writes it, not sent ({@link EventProducer.encodeBatch}): its key, its value in the
 * Confluent wire format and the envelope headers, for a caller that writes it itself (the consumer's Kafka
 * transactions, `transactional: true`).
 */
export interface EncodedRecord {
  topic: string;
  eventId: string;
  key: string | Buffer;
  value: Buffer;
  headers: IHeaders;
}
