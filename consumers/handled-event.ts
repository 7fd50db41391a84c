/**
 * The event a handler gets. Its `headers` (every header decoded) and `payloadHash` (SHA-256 of the value) are
 * computed on first read and then kept: most handlers read neither, and both cost more than the rest of the
 * event. They are accessors on the prototype, so `{ ...event }` does not copy them; `JSON.stringify` does.
 */
import { createHash } from 'node:crypto';
import type { HandledEvent } from './options.ts';

const empty = Buffer.alloc(0);

class LazyHandledEvent<T> implements HandledEvent<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
  eventId: string;
  eventType: string | undefined;
  timestamp: string;
  private readonly raw: Buffer | null;
  private readonly decodeHeaders: () => Record<string, string>;
  private decodedHeaders: Record<string, string> | undefined;
  private hash: string | undefined;

  constructor(fields: Omit<HandledEvent<T>, 'headers' | 'payloadHash'>, raw: Buffer | null, decodeHeaders: () => Record<string, string>) {
    this.topic = fields.topic;
    this.partition = fields.partition;
    this.offset = fields.offset;
    this.key = fields.key;
    this.value = fields.value;
    this.eventId = fields.eventId;
    this.eventType = fields.eventType;
    this.timestamp = fields.timestamp;
    this.raw = raw;
    this.decodeHeaders = decodeHeaders;
  }

  get headers(): Record<string, string> {
    return (this.decodedHeaders ??= this.decodeHeaders());
  }

  set headers(headers: Record<string, string>) {
    this.decodedHeaders = headers;
  }

  get payloadHash(): string {
    return (this.hash ??= payloadHashOf(this.raw));
  }

  set payloadHash(hash: string) {
    this.hash = hash;
  }

  toJSON(): HandledEvent<T> {
    const { topic, partition, offset, key, value, eventId, eventType, timestamp, headers, payloadHash } = this;
    return { topic, partition, offset, key, value, eventId, eventType, headers, timestamp, payloadHash };
  }
}

/** SHA-256 of the raw value, base64url, 22 characters. */
export function payloadHashOf(value: Buffer | null): string {
  return createHash('sha256')
    .update(value ?? empty)
    .digest('base64url')
    .slice(0, 22);
}

/** The event for a record: `origin` names it as first consumed (a retry's source topic and offset). */
export function createHandledEvent<T>(
  origin: { topic: string; offset: string; timestamp: string },
  record: { partition: number; key: Buffer | null; value: Buffer | null },
  value: T,
  eventId: string,
  eventType: string | undefined,
  decodeHeaders: () => Record<string, string>,
): HandledEvent<T> {
  return new LazyHandledEvent<T>(
    { topic: origin.topic, partition: record.partition, offset: origin.offset, key: record.key === null ? null : record.key.toString('utf8'), value, eventId, eventType, timestamp: origin.timestamp },
    record.value,
    decodeHeaders,
  );
}
