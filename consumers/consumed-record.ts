import type { IHeaders } from '../core/kafka-client.ts';

/** A fetched record, copied out of the fetch response so holding it does not pin the whole response. */
export interface ConsumedRecord {
  topic: string;
  /** The source topic: `topic` itself, or the source of a retry tier. */
  sourceTopic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
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
