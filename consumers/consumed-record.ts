import type { IHeaders, KafkaMessage } from '../core/kafka-client.ts';

/** A fetched record, copied out of the fetch response so holding it does not pin the whole response. */
export interface ConsumedRecord {
  topic: string;
  /** The source topic: `topic` itself, or the source of a retry tier. */
  sourceTopic: string;
  partition: number;
  /** `topic` and `partition` as one string, made once per fetched batch: the key of per-partition state. */
  partitionId: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

/** The key of per-partition state (offsets, backpressure, pauses). */
export function partitionIdOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * A fetched message as a record that owns its bytes: the key and value are copied, and every header value that
 * is valid UTF-8 becomes a string (what {@link readHeader} returns for it, and the same bytes when forwarded),
 * any other one a copied Buffer. kafkajs hands out slices of the fetch response, so a record kept past its
 * batch would otherwise pin the whole response in memory.
 */
export function consumedRecordOf(message: KafkaMessage, topic: string, sourceTopic: string, partition: number, partitionId: string): ConsumedRecord {
  return {
    topic,
    sourceTopic,
    partition,
    partitionId,
    offset: message.offset,
    key: message.key === null || message.key === undefined ? null : Buffer.from(message.key),
    value: message.value === null ? null : Buffer.from(message.value),
    headers: message.headers === undefined ? {} : copyHeaders(message.headers),
    timestamp: message.timestamp,
  };
}

function copyHeaders(headers: IHeaders): IHeaders {
  const copy: IHeaders = {};
  for (const name of Object.keys(headers)) {
    const raw = headers[name];
    const value = (Array.isArray(raw) ? raw.map(copyHeaderValue) : copyHeaderValue(raw)) as IHeaders[string];
    // An own `__proto__` header stays an own property (an assignment would set the copy's prototype).
    if (name === '__proto__') Object.defineProperty(copy, name, { value, enumerable: true, writable: true, configurable: true });
    else copy[name] = value;
  }
  return copy;
}

function copyHeaderValue<V extends Buffer | string | null | undefined>(value: V): V | Buffer | string {
  if (!Buffer.isBuffer(value)) return value;
  // A leading BOM stays bytes: the decoder would drop it, and a forward must carry the header's own bytes.
  if (!(value.length >= 3 && value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf)) {
    try {
      return strictUtf8.decode(value);
    } catch {
      // not UTF-8: kept as bytes
    }
  }
  return Buffer.from(value);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads headers defensively: own keys only (a `__proto__` header changes nothing), the last value wins for a
 * repeated header, and a value that is not valid UTF-8 is left out.
 */
export function readHeaders(headers: IHeaders): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(headers)) {
    if (name === '__proto__') continue;
    const raw = headers[name];
    const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (last === undefined) continue;
    try {
      result[name] = typeof last === 'string' ? last : strictUtf8.decode(last);
    } catch {
      // invalid UTF-8: the header is ignored
    }
  }
  return result;
}

/** One header, read as {@link readHeaders} would: own key, the last value if repeated, undefined if not UTF-8. */
export function readHeader(headers: IHeaders, name: string): string | undefined {
  if (name === '__proto__' || !Object.hasOwn(headers, name)) return undefined;
  const raw = headers[name];
  const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (last === undefined) return undefined;
  if (typeof last === 'string') return last;
  try {
    return strictUtf8.decode(last);
  } catch {
    return undefined;
  }
}
