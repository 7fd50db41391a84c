/**
 * Traces across services, on the real stack, with the SDK's in-memory exporter: a request span publishes
 * events (A); a consumer handles each in a consumer span that is a child of, and linked to, the request span,
 * and emits to B; the consumer of B handles each in a span that is a child of (and linked to) the span of the
 * A record that emitted it. A failed attempt's span has status error with the error's type only, and the retry
 * tier's delivery (and a DLT forward) carry the original trace context on.
 *
 * No propagator is registered: the producers format the active span context themselves and the consumers parse
 * `traceparent`/`tracestate` themselves (with a registered W3C propagator the same headers come out).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, createTraceState, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { NonRetryableError } from '../../../core/errors.ts';
import { readHeader } from '../../../core/headers.ts';
import { emittedEventId } from '../../../consumers/emit/attempt-emits.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, ensureTopicLayout, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { createOutboxTables, OutboxRelay, OutboxWriter } from '../../../outbox/index.ts';
import { dropOutboxTable, uniqueOutboxTable } from '../../support/outbox-harness.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka, testStack } from '../../support/test-stack.ts';
import { eventually, readAll, startTestConsumer, testRedis } from '../../support/consumer-harness.ts';
import { testRegistry } from '../schemas/registry-helpers.ts';

const stepSchema = JSON.stringify({ type: 'record', name: 'TraceStep', namespace: 'orderly.test', fields: [{ name: 'step', type: 'string' }] });

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

/** Runs `publish` inside a request span whose trace carries a `tracestate` from upstream; returns the span. */
async function inRequestSpan(publish: () => Promise<unknown>): Promise<Span> {
  const upstream = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: createTraceState('vendor=abc') });
  const span = trace.getTracer('test').startSpan('request', { kind: SpanKind.SERVER }, upstream);
  await context.with(trace.setSpan(upstream, span), publish);
  span.end();
  return span;
}

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name);
}

function newProducer(): EventProducer {
  return new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true });
}

describe('traces across services', () => {
  it('produce -> consume -> emit -> consume: each consumer span is a child of, and linked to, the span that produced its record', { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([createTestTopic({ partitions: 2, prefix: 'trace-a' }), createTestTopic({ partitions: 2, prefix: 'trace-b' })]);
    const [groupA, groupB] = [testGroupId(), testGroupId()];
    const emitter = newProducer();
    const handledB: string[] = [];
    const first = startTestConsumer({
      groupId: groupA,
      topics: [a],
      producer: emitter,
      // Concurrent handlers emit in the same turn: their emits go out in one batch, each with its own span.
      handler: async (event, { emit }) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await emit(b, event.key!, { schema: stepSchema, value: { step: 'b' } });
      },
    });
    const second = startTestConsumer({ groupId: groupB, topics: [b], handler: async (event) => void handledB.push(event.eventId) });
    await Promise.all([first.start(), second.start()]);

    const producer = newProducer();
    const sources = ['order-1', 'order-2', 'order-3', 'order-4'];
    const request = await inRequestSpan(() => producer.publishBatch(sources.map((key) => ({ topic: a, key, eventId: `${key}#1`, schema: stepSchema, value: { step: 'a' } }))));
    await producer.close();
    await eventually(() => handledB.length >= sources.length, () => `${handledB.length} of ${sources.length} handled from B`, 60_000);
    await eventually(() => spansNamed(`process ${b}`).length >= sources.length, () => `the spans of B to end: ${exporter.getFinishedSpans().map((span) => span.name).join(", ")}`, 10_000);
    await Promise.all([first.stop(), second.stop()]);
    await emitter.close();

    const { traceId, spanId: requestSpanId } = request.spanContext();
    const spansA = spansNamed(`process ${a}`);
    const spansB = spansNamed(`process ${b}`);
    expect(spansA).toHaveLength(sources.length);
    expect(spansB).toHaveLength(sources.length);
    for (const span of spansA) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(requestSpanId);
      expect(span.parentSpanContext?.isRemote).toBe(true);
      expect(span.links.map((link) => link.context.spanId)).toEqual([requestSpanId]);
      // tracestate travelled with traceparent
      expect(span.parentSpanContext?.traceState?.get('vendor')).toBe('abc');
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      const key = span.attributes['messaging.kafka.message.key'];
      expect(span.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': a,
        'messaging.destination.partition.id': expect.stringMatching(/^[01]$/),
        'messaging.kafka.offset': expect.any(Number),
        'messaging.consumer.group.name': groupA,
        'messaging.message.id': `${String(key)}#1`,
        'orderly.event.type': 'orderly.test.TraceStep',
        'orderly.attempt': 1,
        'orderly.attempts': 1,
      });
      expect(sources).toContain(key);
    }
    // Each record of B: a child of the span of the A record whose handler emitted it (found by the derived event id).
    const spanOfEmitted = new Map(spansA.map((span) => [emittedEventId(groupA, String(span.attributes['messaging.message.id']), 0), span]));
    for (const span of spansB) {
      const emitter = spanOfEmitted.get(String(span.attributes['messaging.message.id']));
      expect(emitter, 'the A span that emitted this record').toBeDefined();
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(emitter!.spanContext().spanId);
      expect(span.links.map((link) => link.context.spanId)).toEqual([emitter!.spanContext().spanId]);
      expect(span.parentSpanContext?.traceState?.get('vendor')).toBe('abc');
      expect(span.attributes['messaging.consumer.group.name']).toBe(groupB);
      expect(span.attributes['messaging.kafka.message.key']).toBe(emitter!.attributes['messaging.kafka.message.key']);
    }
  });

  it('a retry tier delivery and a dead letter carry the original trace context; a failed attempt has status error with its error type only', { timeout: 120_000 }, async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'trace-retry' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 1 });
    const tier = retryTopicOf(topic, groupId, 1);
    const dlt = deadLetterTopicOf(topic, groupId);
    const attempts = new Map<string, number>();
    const consumer = startTestConsumer({
      groupId,
      topics: [topic],
      retryTiersMs: [200],
      inPlaceRetries: 0,
      parkingStore: new RedisParkingStore({ redis: testRedis(), groupId }),
      handler: async (event) => {
        const attempt = (attempts.get(event.key!) ?? 0) + 1;
        attempts.set(event.key!, attempt);
        // The messages quote the payload: neither may reach a span.
        if (event.key === 'poison') throw new NonRetryableError('poison payload secret-123');
        if (attempt === 1) throw new TypeError('flaky payload secret-456');
      },
    });
    await consumer.start();
    const producer = newProducer();
    const request = await inRequestSpan(() =>
      producer.publishBatch([
        { topic, key: 'flaky', eventId: 'flaky#1', schema: stepSchema, value: { step: 'x' } },
        { topic, key: 'poison', eventId: 'poison#1', schema: stepSchema, value: { step: 'x' } },
      ]),
    );
    await producer.close();
    await eventually(() => spansNamed(`process ${tier}`).length >= 1 && spansNamed(`process ${topic}`).length >= 2, () => 'the source and tier spans', 60_000);
    const [dead] = await readAll(dlt, 1, 30_000);
    await consumer.stop();

    const { traceId, spanId: requestSpanId } = request.spanContext();
    const source = spansNamed(`process ${topic}`);
    const flaky = source.find((span) => span.attributes['messaging.message.id'] === 'flaky#1')!;
    const poison = source.find((span) => span.attributes['messaging.message.id'] === 'poison#1')!;
    expect(flaky.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TypeError' });
    expect(flaky.attributes['error.type']).toBe('TypeError');
    expect(poison.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NON_RETRYABLE' });
    const [retried] = spansNamed(`process ${tier}`);
    expect(retried!.status.code).toBe(SpanStatusCode.UNSET);
    expect(retried!.attributes).toMatchObject({ 'messaging.destination.name': tier, 'orderly.retry.tier': 1, 'orderly.source_topic': topic, 'orderly.attempt': 2, 'messaging.message.id': 'flaky#1' });
    // The retry is in the same trace, under the original producer's span (not under the failed attempt's).
    for (const span of [flaky, poison, retried!]) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(requestSpanId);
      expect(span.links.map((link) => link.context.spanId)).toEqual([requestSpanId]);
      expect(JSON.stringify({ status: span.status, attributes: span.attributes, events: span.events })).not.toMatch(/secret|payload/);
    }
    // The dead letter keeps the producer's trace context as it came.
    expect(readHeader(dead!.headers!, 'traceparent')).toBe(`00-${traceId}-${requestSpanId}-01`);
    expect(readHeader(dead!.headers!, 'tracestate')).toBe('vendor=abc');
  });

  it('the outbox: the writer trace context is stored with the row and the relay publishes it, whatever context the relay runs in', { timeout: 120_000 }, async () => {
    const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 3 });
    onTestFinished(() => pool.end());
    const table = uniqueOutboxTable();
    const client = await pool.connect();
    try {
      await createOutboxTables(client, table);
    } finally {
      client.release();
    }
    onTestFinished(() => dropOutboxTable(pool, table));
    const topic = await createTestTopic({ partitions: 1, prefix: 'trace-outbox' });
    const groupId = testGroupId();
    const writer = new OutboxWriter({ registry: testRegistry(), table, autoRegister: true });
    const request = await inRequestSpan(async () => {
      const writing = await pool.connect();
      try {
        await writing.query('begin');
        // A caller's own tracestate header is dropped (an envelope header); its other headers go out.
        await writer.add(writing, { topic, key: 'order-9', event: { step: 'outbox' }, schema: stepSchema, headers: { 'x-tenant': 't1', tracestate: 'forged=1' } });
        await writing.query('commit');
      } finally {
        writing.release();
      }
    });
    const { rows } = await pool.query<{ traceparent: string; headers: Record<string, string> }>(`select traceparent, headers from ${table}`);
    const { traceId, spanId: requestSpanId } = request.spanContext();
    expect(rows).toEqual([{ traceparent: `00-${traceId}-${requestSpanId}-01`, headers: { 'x-tenant': 't1', tracestate: 'vendor=abc' } }]);

    const handled: string[] = [];
    const consumer = startTestConsumer({ groupId, topics: [topic], handler: async (event) => void handled.push(event.headers['x-tenant'] ?? '') });
    await consumer.start();
    const producer = new EventProducer({ kafka: testKafka(), registry: testRegistry() });
    const relay = new OutboxRelay({ pool, producer, kafka: testKafka(), table, pollIntervalMs: 200 });
    onTestFinished(async () => {
      await relay.stop();
      await producer.close({ timeoutMs: 5_000 });
    });
    await relay.start();
    await eventually(() => spansNamed(`process ${topic}`).length >= 1, () => 'the span of the relayed record', 60_000);
    await consumer.stop();
    const [span] = spansNamed(`process ${topic}`);
    expect(handled).toEqual(['t1']);
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext?.spanId).toBe(requestSpanId);
    expect(span!.parentSpanContext?.traceState?.serialize()).toBe('vendor=abc');
    expect(span!.links.map((link) => link.context.spanId)).toEqual([requestSpanId]);
  });
});
