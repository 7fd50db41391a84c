/**
 * The producer's trace context from a record's headers: through the registered propagator (which may read
 * any header: B3 from a producer that is not Orderly's, say), else the W3C `traceparent`/`tracestate` that
 * Orderly's producers write (producers/trace-parent.ts), parsed here, so a process without a propagator (a
 * tracer provider alone) still links its spans to the producer's.
 */
import { createTraceState, isSpanContextValid, propagation, ROOT_CONTEXT, trace, TraceFlags, type Context, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { readRawHeader, type RecordHeader } from '../../core/headers.ts';

const rawHeaderGetter: TextMapGetter<readonly RecordHeader[]> = {
  keys: (list) => [...new Set(list.map((header) => header.name.toString('utf8')))],
  get: (list, key) => readRawHeader(list, key),
};

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The remote span context of the producer, or undefined when the headers carry none (or a malformed one). */
export function producerSpanContext(headers: readonly RecordHeader[]): SpanContext | undefined {
  const extracted = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, rawHeaderGetter));
  if (extracted && isSpanContextValid(extracted)) return extracted;
  return parseTraceparent(readRawHeader(headers, 'traceparent'), readRawHeader(headers, 'tracestate'));
}

/** A W3C `traceparent` (and `tracestate`) as a remote span context; undefined when invalid. */
export function parseTraceparent(traceparent: string | undefined, tracestate: string | undefined): SpanContext | undefined {
  if (traceparent === undefined || traceparent.length > 512) return undefined;
  const match = traceparentPattern.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is invalid; version 00 has exactly four fields (a later version may add some).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16) & TraceFlags.SAMPLED, isRemote: true };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (tracestate && tracestate.length <= 512) spanContext.traceState = createTraceState(tracestate);
  return spanContext;
}

/** A context whose parent is the producer's span (the root context when there is none). */
export function producerContext(spanContext: SpanContext | undefined): Context {
  return spanContext ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}
