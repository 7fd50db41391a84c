/**
 * The event a handler gets. Its `headers` (every header decoded) and `payloadHash` (SHA-256 of the value) are
 * computed on first read and then kept: most handlers read neither, and both cost more than the rest of the
 * event. They are accessors on the prototype, so `{ ...event }` does not copy them; `JSON.stringify` does.
 */
import { createHash } from 'node:crypto';
import type { IHeaders } from '../core/kafka-client.ts';
import { readHeaders } from './consumed-record.ts';
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
  /** The record, whose readable headers are built on first read (most handlers never read them). */
  private readonly source: { headers: IHeaders };
  private decodedHeaders: Record<string, string> | undefined;
  private hash: string | undefined;

  constructor(topic: string, partition: number, offset: string, key: string | null, value: T, eventId: string, eventType: string | undefined, timestamp: string, raw: Buffer | null, source: { headers: IHeaders }) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.key = key;
    this.value = value;
    this.eventId = eventId;
    this.eventType = eventType;
    this.timestamp = timestamp;
    this.raw = raw;
    this.source = source;
  }

  get headers(): Record<string, string> {
    return (this.decodedHeaders ??= readHeaders(this.source.headers));
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
  record: { partition: number; key: Buffer | null; value: Buffer | null; headers: IHeaders },
  value: T,
  eventId: string,
  eventType: string | undefined,
): HandledEvent<T> {
  const key = record.key === null ? null : record.key.toString('utf8');
  return new LazyHandledEvent<T>(origin.topic, record.partition, origin.offset, key, value, eventId, eventType, origin.timestamp, record.value, record);
}
