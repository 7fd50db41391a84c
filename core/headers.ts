/**
 * Record headers, in one place: every `orderly-` header name (the wire contract), the ordered byte-exact form
 * a record's headers travel in through the consumer, and the defensive reader.
 *
 * Kafka headers are an ordered list of (name bytes, value bytes) pairs: names may repeat, may be empty, may be
 * any bytes, and may collide with JavaScript's `Object.prototype` (`constructor`, `__proto__`, `toString`).
 * The object form kafkajs uses loses order, repeats and non-UTF-8 names, so the consumer carries the list
 * ({@link RecordHeader}) and forwards it byte for byte; the object form is only read, never trusted.
 */
// A type only: the one runtime seam to kafkajs stays kafka-client.ts (which imports this module's codec).
import type { IHeaders } from 'kafkajs';

/** Every header name Orderly reads or writes. */
export const headerNames = {
  // The envelope a producer writes.
  eventId: 'orderly-event-id',
  eventType: 'orderly-event-type',
  occurredAt: 'orderly-occurred-at',
  // Written by every forward (to a retry tier or the DLT).
  reason: 'orderly-dlt-reason',
  attempt: 'orderly-attempt',
  firstFailureAt: 'orderly-first-failure-at',
  originalTopic: 'orderly-original-topic',
  originalPartition: 'orderly-original-partition',
  originalOffset: 'orderly-original-offset',
  originalTimestamp: 'orderly-original-timestamp',
  consumerGroup: 'orderly-consumer-group',
  errorType: 'orderly-error-type',
  errorMessage: 'orderly-error-message',
  errorStack: 'orderly-error-stack',
  errorFingerprint: 'orderly-error-fingerprint',
  /** Set by `dlt replay`, kept by forwards. */
  replayCount: 'orderly-replay-count',
  // Written by a forward to a retry tier.
  dueAt: 'orderly-due-at',
  /** The tier topic the record was sent to. */
  tier: 'orderly-tier',
  /**
   * How many tiers the event climbed for its own failures. A successor that follows a parked head up the
   * ladder keeps its own level, so it still has every tier above it when it becomes the head and fails.
   */
  level: 'orderly-retry-level',
  /** Set on a reduced dead letter (see the dead-letter publisher): why the full record could not be sent. */
  reducedForm: 'orderly-reduced-form',
  // Written on a cron tick (scheduling/tick-event.ts).
  /** The slot the tick is for, ISO-8601 UTC. */
  scheduledFor: 'orderly-scheduled-for',
  /** The schedule's name. */
  schedule: 'orderly-schedule',
  // Delayed events (consumers/delays/).
  /** When a delayed event may be handled, epoch ms: set by the producer, kept by every forward. */
  deliverAt: 'orderly-deliver-at',
  /** On a cancel record: the id of the delayed event it cancels. */
  cancels: 'orderly-cancels',
} as const;

/** One header exactly as on the wire: the name's bytes and the value's bytes (null for a null value). */
export interface RecordHeader {
  name: Buffer;
  value: Buffer | null;
}

/**
 * The ordered list behind a headers object: set by the record decoder (see kafka-record-codec.ts) on every
 * fetched record's headers, and read by the record encoder, which then writes the list instead of the object.
 */
export const rawHeadersKey: unique symbol = Symbol.for('orderly.raw-headers') as never;

/** The ordered byte-exact headers of a fetched record, or the object's own entries in order when it has none. */
export function rawHeadersOf(headers: IHeaders | undefined): RecordHeader[] {
  if (headers === undefined) return [];
  const raw = (headers as { [rawHeadersKey]?: RecordHeader[] })[rawHeadersKey];
  if (Array.isArray(raw)) return raw;
  const list: RecordHeader[] = [];
  for (const name of Object.keys(headers)) {
    const given = headers[name];
    for (const value of Array.isArray(given) ? given : [given]) {
      if (value === undefined) continue;
      list.push({ name: Buffer.from(name, 'utf8'), value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8') });
    }
  }
  return list;
}

/**
 * A headers object for `producer.send` that the record encoder writes as `list`, byte for byte and in order.
 * Its own properties are the readable form (names decoded as UTF-8, repeats as arrays) for anyone who looks.
 */
export function headersOf(list: readonly RecordHeader[]): IHeaders {
  const headers = Object.create(null) as IHeaders;
  for (const { name, value } of list) {
    const key = name.toString('utf8');
    const given = headers[key];
    const item = value === null ? undefined : (textOf(value) ?? value);
    if (!Object.hasOwn(headers, key)) headers[key] = item;
    else headers[key] = (Array.isArray(given) ? [...given, item] : [given, item]) as IHeaders[string];
  }
  Object.defineProperty(headers, rawHeadersKey, { value: list, enumerable: false });
  return headers;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A header's text: undefined when its bytes are not valid UTF-8 (or start with a byte-order mark, which decoding would drop). */
export function textOf(value: Buffer | string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (isAscii(value)) return value.toString('latin1'); // the usual header, without a decoder call
  if (value.length >= 3 && value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf) return undefined;
  try {
    return strictUtf8.decode(value);
  } catch {
    return undefined;
  }
}

/** True for short all-ASCII bytes (valid UTF-8, the same text in latin1). */
function isAscii(bytes: Buffer): boolean {
  if (bytes.length > 256) return false;
  for (let index = 0; index < bytes.length; index++) if (bytes[index]! >= 0x80) return false;
  return true;
}

/**
 * Reads headers defensively: own keys only (a `__proto__` or `constructor` header is data, never a
 * prototype), the last value wins for a repeated header, and a value that is not valid UTF-8 is left out.
 */
export function readHeaders(headers: IHeaders): Record<string, string> {
  const result = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(headers)) {
    const text = readHeader(headers, name);
    if (text !== undefined) result[name] = text;
  }
  return result;
}

/** One header, read as {@link readHeaders} would: own key, the last value if repeated, undefined if not UTF-8. */
export function readHeader(headers: IHeaders, name: string): string | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const raw = headers[name];
  const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (typeof last === 'string') return last;
  if (!Buffer.isBuffer(last)) return undefined; // not a header value (an inherited function, say): ignored
  try {
    return strictUtf8.decode(last);
  } catch {
    return undefined;
  }
}

/** One header from the ordered list: the last value of that name, as UTF-8 text. */
export function readRawHeader(list: readonly RecordHeader[], name: string): string | undefined {
  for (let index = list.length - 1; index >= 0; index--) {
    const header = list[index]!;
    if (sameName(header.name, name)) return textOf(header.value);
  }
  return undefined;
}

/** Whether a header name's bytes are `name` (an ASCII name, as every Orderly header is), without decoding them. */
function sameName(bytes: Buffer, name: string): boolean {
  if (bytes.length !== name.length) return false;
  for (let index = 0; index < bytes.length; index++) if (bytes[index] !== name.charCodeAt(index)) return false;
  return true;
}

/** The wire size of a header list (names and values), for memory bounds and size checks. */
export function headersByteLength(list: readonly RecordHeader[]): number {
  let total = 0;
  for (const { name, value } of list) total += name.length + (value?.length ?? 0) + 10;
  return total;
}

/** Headers as they go out on a forward: every header but `dropped`, in their order, then `added` in its order. */
export function replaceHeaders(list: readonly RecordHeader[], dropped: ReadonlySet<string>, added: Readonly<Record<string, string>>): RecordHeader[] {
  const result: RecordHeader[] = [];
  for (const header of list) {
    if (header.name.length > 8 && header.name[0] === 0x6f /* o */ && dropped.has(header.name.toString('latin1'))) continue;
    result.push(header);
  }
  for (const [name, value] of Object.entries(added)) result.push({ name: Buffer.from(name, 'utf8'), value: Buffer.from(value, 'utf8') });
  return result;
}
