import { describe, expect, it, afterEach } from 'vitest';
import { context, createTraceState, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { envelopeToHeaders, readEnvelope } from '../../../producers/envelope-headers.ts';
import { activeTraceContext, activeTraceparent } from '../../../producers/trace-parent.ts';

/** The smallest context manager: a stack, enough for synchronous `context.with`. */
class StackContextManager implements ContextManager {
  readonly #stack: Context[] = [];
  active(): Context {
    return this.#stack[this.#stack.length - 1] ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(active: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    this.#stack.push(active);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#stack.pop();
    }
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

describe('envelope headers', () => {
  afterEach(() => context.disable());

  it('writes the envelope and reads it back', () => {
    const envelope = { eventId: '0190a0b2-0000-7000-8000-000000000001', eventType: 'orderly.ledger.AccountOpened', occurredAt: '2025-01-31T12:00:00.000Z' };
    const headers = envelopeToHeaders(envelope, { 'x-extra': 'yes' });
    expect(headers).toEqual({ 'x-extra': 'yes', 'orderly-event-id': envelope.eventId, 'orderly-event-type': envelope.eventType, 'orderly-occurred-at': envelope.occurredAt });
    expect(readEnvelope(headers)).toEqual(envelope);
  });

  it('reads defensively: last value wins, bad UTF-8 and bad dates are ignored, __proto__ changes nothing', () => {
    const headers = Object.create(null) as Record<string, unknown>;
    headers['orderly-event-id'] = [Buffer.from('first'), Buffer.from('last')];
    headers['orderly-event-type'] = Buffer.from([0xff, 0xfe]);
    headers['orderly-occurred-at'] = 'yesterday-ish';
    headers.traceparent = 'not-a-traceparent';
    headers.__proto__ = 'x';
    expect(readEnvelope(headers as never)).toEqual({ eventId: 'last' });
    expect(readEnvelope(undefined)).toEqual({});
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('has no traceparent without an active span, and the active span context as W3C traceparent with one', () => {
    expect(activeTraceparent()).toBeUndefined();
    context.setGlobalContextManager(new StackContextManager());
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    const traceparent = context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), () => activeTraceparent());
    expect(traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(activeTraceparent()).toBeUndefined();
  });

  it('writes tracestate only beside a traceparent, and reads it back only with one', () => {
    const envelope = { eventId: 'e', eventType: 't', occurredAt: '2025-01-31T12:00:00.000Z', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=abc' };
    const headers = envelopeToHeaders(envelope, { tracestate: 'forged=1' });
    expect(headers.tracestate).toBe('vendor=abc');
    expect(readEnvelope(headers)).toEqual(envelope);
    const { traceparent: _dropped, ...withoutParent } = envelope;
    expect(envelopeToHeaders(withoutParent).tracestate).toBeUndefined();
    expect(readEnvelope({ ...envelopeToHeaders(withoutParent), tracestate: 'vendor=abc' }).tracestate).toBeUndefined();
  });

  it('the active span context with its trace state as traceparent and tracestate', () => {
    context.setGlobalContextManager(new StackContextManager());
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, traceState: createTraceState('vendor=abc') };
    const captured = context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), () => activeTraceContext());
    expect(captured).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=abc' });
  });
});
