/**
 * The W3C `traceparent` of the active OpenTelemetry context. A registered propagator (an SDK) writes it;
 * without one, the active span context is formatted directly; without an active span there is none.
 * `@opentelemetry/api` is a no-op without an SDK, so this costs nothing where tracing is off.
 */
import { context, propagation, trace, isSpanContextValid } from '@opentelemetry/api';

export function activeTraceparent(): string | undefined {
  const active = context.active();
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  if (carrier.traceparent) return carrier.traceparent;
  const spanContext = trace.getSpanContext(active);
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
