import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { EmitBatcher, type BatchingEmitProducer } from '../../../../consumers/emit/emit-batcher.ts';
import type { OutgoingEvent, PublishedEvent } from '../../../../producers/outgoing-event.ts';
import { traceContextOf, type TraceContextHeaders } from '../../../../producers/trace-parent.ts';

const manager = new AsyncLocalStorageContextManager();
beforeAll(() => context.setGlobalContextManager(manager.enable()));
afterAll(() => {
  context.disable();
});

/** A producer that records the trace context each event of a batch would be sent with (read as EventProducer reads it). */
class RecordingProducer implements BatchingEmitProducer {
  readonly sent: (TraceContextHeaders | undefined)[] = [];
  publish<V>(event: OutgoingEvent<V>): Promise<PublishedEvent> {
    return this.publishBatch([event]).then(([published]) => published!);
  }
  publishBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<PublishedEvent[]> {
    for (const event of events) this.sent.push(traceContextOf(event));
    return Promise.resolve(events.map((event, index) => ({ eventId: event.eventId ?? `e${index}`, topic: 'out', partition: 0, offset: String(index) })));
  }
}

const spanOf = (spanId: string) => trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId, traceFlags: TraceFlags.SAMPLED });
const event = (eventId: string): OutgoingEvent => ({ topic: 'out', key: 'k', eventId, value: {}, schema: { type: 'record', name: 'E', fields: [] } });

describe('emit batching keeps each emit its own trace context', () => {
  it('two handlers emitting in the same turn: each event goes out with the span of the handler that emitted it', async () => {
    const producer = new RecordingProducer();
    const batcher = new EmitBatcher(producer);
    // One batch: both emits are queued before the batch is sent (on the next turn, in the first emitter's context).
    const first = context.with(spanOf('b7ad6b7169203331'), () => batcher.publish(event('a')));
    const second = context.with(spanOf('00f067aa0ba902b7'), () => batcher.publish(event('b')));
    await Promise.all([first, second]);
    expect(producer.sent.map((sent) => sent?.traceparent)).toEqual(['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01']);
  });

  it('an emit made without a span goes out without one, even when the batch is sent from a span', async () => {
    const producer = new RecordingProducer();
    const batcher = new EmitBatcher(producer);
    const first = context.with(spanOf('b7ad6b7169203331'), () => batcher.publish(event('a')));
    const second = batcher.publish(event('b'));
    await Promise.all([first, second]);
    expect(producer.sent.map((sent) => sent?.traceparent)).toEqual(['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', undefined]);
  });
});
