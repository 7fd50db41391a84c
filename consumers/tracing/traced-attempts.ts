/**
 * A consumer span per handled record (OpenTelemetry messaging semantic conventions, a `process` span of kind
 * CONSUMER): it covers the handler attempts this member makes for the record (one span for the in-place
 * retries of one delivery; a retry tier's delivery gets its own span), and the handler runs inside its
 * context, so `context.emit` and any producer call or instrumented client in the handler carry it on.
 *
 * Parent and link: the producer's span context (from `traceparent`/`tracestate`) is the span's parent AND its
 * link. The conventions require a link to the creation context for a consumer span (a batch cannot have one
 * parent per message) and allow the creation context as parent when a single message is processed, which is
 * always the case here: so a produce -> consume -> emit -> consume chain is one trace, and tools that follow
 * links only find the producer too. A record without a trace context gets a root span.
 *
 * Cost: nothing but one check per record when no tracer provider is registered (the API's no-op): the
 * attempts run as they are, no span, no header read (see bench/tracing-overhead.ts).
 */
import { context, ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { textOf, type RecordHeader } from '../../core/headers.ts';
import { errorTypeOf, type AttemptHooks, type AttemptsResult, type HandlerAttempts } from '../handler-attempts.ts';
import type { HandledEvent } from '../options.ts';
import { producerContext, producerSpanContext } from './extract-trace-context.ts';

/** The instrumentation scope of Orderly's spans. */
export const tracerName = 'orderly';

/** Attribute names (semantic conventions 1.27 to 1.44; see docs/observability.md, "Traces"). */
export const spanAttributes = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  offset: 'messaging.kafka.offset',
  key: 'messaging.kafka.message.key',
  tombstone: 'messaging.kafka.message.tombstone',
  group: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  bodySize: 'messaging.message.body.size',
  errorType: 'error.type',
  /** Orderly's own: the event type, the source topic and tier of a retry, the attempts. */
  eventType: 'orderly.event.type',
  sourceTopic: 'orderly.source_topic',
  tier: 'orderly.retry.tier',
  firstAttempt: 'orderly.attempt',
  attempts: 'orderly.attempts',
  timedOut: 'orderly.timed_out',
  abandoned: 'orderly.abandoned',
} as const;

/** What the span reads of the record as consumed (a `ConsumedRecord` is one). */
export interface TracedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  rawHeaders: readonly RecordHeader[];
  tier?: number;
}

/**
 * The method of {@link HandlerAttempts} the record processor calls in a span, and whether a tracer provider is
 * registered now (the processor's plain path, which starts a first attempt without a promise of its own, is
 * taken only while none is: a traced record goes through `run`).
 */
export interface Attempts<T> {
  run<W>(event: HandledEvent<T>, attemptsBefore: number, stop: AbortSignal, hooks: AttemptHooks<W>, work: W, record: TracedRecord): Promise<AttemptsResult>;
  tracing(): boolean;
}

/** `attempts`, each record's run inside a consumer span while a tracer provider is registered. */
export function tracedAttempts<T>(attempts: HandlerAttempts<T>, groupId: string): Attempts<T> {
  const tracers = new TracerLookup();
  return {
    run(event, attemptsBefore, stop, hooks, work, record) {
      const tracer = tracers.current();
      if (!tracer) return attempts.run(event, attemptsBefore, stop, hooks, work, record);
      return runInSpan(tracer, groupId, () => attempts.run(event, attemptsBefore, stop, hooks, work, record), event, attemptsBefore, record);
    },
    tracing: () => tracers.current() !== undefined,
  };
}

function runInSpan<T>(tracer: Tracer, groupId: string, run: () => Promise<AttemptsResult>, event: HandledEvent<T>, attemptsBefore: number, record: TracedRecord): Promise<AttemptsResult> {
  const producer = producerSpanContext(record.rawHeaders);
  const parent = producerContext(producer);
  const span = tracer.startSpan(
    `process ${record.topic}`,
    { kind: SpanKind.CONSUMER, attributes: attributesOf(groupId, event, attemptsBefore, record), ...(producer ? { links: [{ context: producer }] } : {}) },
    parent,
  );
  let running: Promise<AttemptsResult>;
  try {
    running = context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    running = Promise.reject(error);
  }
  return running.then(
    (result) => {
      span.setAttribute(spanAttributes.attempts, result.attempts);
      if (!result.ok) failed(span, result.error, result.timedOut);
      span.end();
      return result;
    },
    (error: unknown) => {
      // Abandoned (revoked, stopping) or an unexpected error: not the handler's failure, the record comes again.
      span.setAttribute(spanAttributes.abandoned, true);
      span.end();
      throw error;
    },
  );
}

/** Status error with the error's type (an OrderlyError's code, an Error's name): never its message, which may quote the payload. */
function failed(span: Span, error: unknown, timedOut: boolean): void {
  const type = errorTypeOf(error);
  span.setAttribute(spanAttributes.errorType, type);
  if (timedOut) span.setAttribute(spanAttributes.timedOut, true);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

function attributesOf<T>(groupId: string, event: HandledEvent<T>, attemptsBefore: number, record: TracedRecord): Attributes {
  const attributes: Attributes = {
    [spanAttributes.system]: 'kafka',
    [spanAttributes.operationType]: 'process',
    [spanAttributes.operationName]: 'process',
    [spanAttributes.destination]: record.topic,
    [spanAttributes.partition]: String(record.partition),
    [spanAttributes.offset]: Number(record.offset),
    [spanAttributes.group]: groupId,
    [spanAttributes.messageId]: event.eventId,
    [spanAttributes.firstAttempt]: attemptsBefore + 1,
  };
  // A key with no text form (not valid UTF-8) is left out, as the conventions say.
  const key = record.key === null ? undefined : textOf(record.key);
  if (key !== undefined) attributes[spanAttributes.key] = key;
  if (record.value === null) attributes[spanAttributes.tombstone] = true;
  else attributes[spanAttributes.bodySize] = record.value.length;
  if (event.eventType !== undefined) attributes[spanAttributes.eventType] = event.eventType;
  if (record.tier !== undefined && record.tier > 0) {
    attributes[spanAttributes.tier] = record.tier;
    attributes[spanAttributes.sourceTopic] = event.topic;
  }
  return attributes;
}

/**
 * The tracer of the registered provider, or undefined while none is registered. The global provider is a
 * proxy whose delegate is set when an SDK registers (possibly after the consumer started): asked per record,
 * the tracer looked up again only when the delegate changes.
 */
class TracerLookup {
  private source: TracerProvider | undefined;
  private tracer: Tracer | undefined;

  current(): Tracer | undefined {
    const provider = trace.getTracerProvider();
    const proxy = provider instanceof ProxyTracerProvider;
    const source = proxy ? provider.getDelegate() : provider;
    if (source !== this.source) {
      this.source = source;
      // A proxy without a delegate answers undefined: tracing is off.
      this.tracer = proxy ? provider.getDelegateTracer(tracerName) : provider.getTracer(tracerName);
    }
    return this.tracer;
  }
}
