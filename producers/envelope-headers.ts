/**
 * The envelope headers every event carries (docs/guarantees.md, "Headers"): the wire contract between producers and
 * consumers. Values are UTF-8 strings.
 * - `orderly-event-id`: a UUIDv7 from the producer unless the caller gives one; stable through retries and
 *   replays: the idempotency key.
 * - `orderly-event-type`: the event's type; by default the full name of its Avro record
 *   (`orderly.ledger.FundsDeposited`).
 * - `orderly-occurred-at`: when the event happened, ISO-8601 in UTC with milliseconds, exactly as
 *   `Date.prototype.toISOString()` writes it (`2025-01-31T12:00:00.000Z`).
 * - `traceparent`, `tracestate`: W3C trace context, only when there is an active span (`tracestate` only when
 *   the span context has one).
 */
import type { IHeaders } from '../core/kafka-client.ts';

export const envelopeHeaderNames = {
  eventId: 'orderly-event-id',
  eventType: 'orderly-event-type',
  occurredAt: 'orderly-occurred-at',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

const reservedNames = new Set<string>(Object.values(envelopeHeaderNames));

export interface Envelope {
  eventId: string;
  eventType: string;
  /** ISO-8601, UTC, milliseconds. */
  occurredAt: string;
  traceparent?: string;
  tracestate?: string;
}

/** Envelope headers first, then the caller's extra headers, which may not replace an envelope header. */
export function envelopeToHeaders(envelope: Envelope, extra: Record<string, string | Buffer> = {}): IHeaders {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(extra)) {
    if (!reservedNames.has(name.toLowerCase()) && name !== '__proto__') headers[name] = value;
  }
  headers[envelopeHeaderNames.eventId] = envelope.eventId;
  headers[envelopeHeaderNames.eventType] = envelope.eventType;
  headers[envelopeHeaderNames.occurredAt] = envelope.occurredAt;
  if (envelope.traceparent !== undefined) {
    headers[envelopeHeaderNames.traceparent] = envelope.traceparent;
    if (envelope.tracestate !== undefined) headers[envelopeHeaderNames.tracestate] = envelope.tracestate;
  }
  return headers;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A header value as text: the last one when repeated; undefined when absent or not valid UTF-8. */
function text(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  if (typeof last === 'string') return last;
  try {
    return utf8.decode(last);
  } catch {
    return undefined;
  }
}

const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Reads the envelope defensively: a missing, malformed or non-UTF-8 header gives undefined for that field. */
export function readEnvelope(headers: IHeaders | undefined): Partial<Envelope> {
  const envelope: Partial<Envelope> = {};
  if (!headers) return envelope;
  const own = (name: string) => (Object.hasOwn(headers, name) ? text(headers[name]) : undefined);
  const eventId = own(envelopeHeaderNames.eventId);
  if (eventId && eventId.length <= 128) envelope.eventId = eventId;
  const eventType = own(envelopeHeaderNames.eventType);
  if (eventType && eventType.length <= 256) envelope.eventType = eventType;
  const occurredAt = own(envelopeHeaderNames.occurredAt);
  if (occurredAt && !Number.isNaN(Date.parse(occurredAt))) envelope.occurredAt = new Date(occurredAt).toISOString();
  const traceparent = own(envelopeHeaderNames.traceparent);
  if (traceparent && traceparentPattern.test(traceparent)) {
    envelope.traceparent = traceparent;
    const tracestate = own(envelopeHeaderNames.tracestate);
    if (tracestate && tracestate.length <= 512) envelope.tracestate = tracestate;
  }
  return envelope;
}
