/**
 * The W3C trace context (`traceparent`, `tracestate`) of the active OpenTelemetry context, for the record
 * headers. A registered propagator (an SDK) writes it; without one, the active span context is formatted
 * directly; without an active span there is none. `@opentelemetry/api` is a no-op without an SDK, so this
 * costs nothing where tracing is off (one lookup of the active context, no span).
 *
 * An event can also carry the context it was captured in ({@link withTraceContext}): handler emits are sent
 * in batches from another turn of the event loop (consumers/emit/emit-batcher.ts), where the active context
 * is no longer the handler's.
 */
import { context, propagation, trace, isSpanContextValid } from '@opentelemetry/api';

/** The W3C trace context headers of one event. */
export interface TraceContextHeaders {
  traceparent: string;
  tracestate?: string;
}

/** The active context's trace context headers, or undefined without a valid active span. */
export function activeTraceContext(): TraceContextHeaders | undefined {
  const active = context.active();
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  if (carrier.traceparent) return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
  const spanContext = trace.getSpanContext(active);
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** The active span context as W3C `traceparent`, or undefined. */
export function activeTraceparent(): string | undefined {
  return activeTraceContext()?.traceparent;
}

/** Where an event keeps the trace context it was captured in (a symbol: not an option, copied by spread). */
const capturedKey: unique symbol = Symbol('orderly.trace-context');

interface Captured {
  [capturedKey]?: TraceContextHeaders | null;
}

/** The event with the active trace context captured now, to be sent with it later from another context. */
export function withTraceContext<E extends object>(event: E): E {
  return { ...event, [capturedKey]: activeTraceContext() ?? null };
}

/** The event's captured trace context if it has one (null: captured without any), else the active one. */
export function traceContextOf(event: object): TraceContextHeaders | undefined {
  const captured = (event as Captured)[capturedKey];
  return captured === undefined ? activeTraceContext() : (captured ?? undefined);
}
