import { describe, expect, it } from 'vitest';
import { parseTraceparent, producerSpanContext } from '../../../../consumers/tracing/extract-trace-context.ts';
import { tracedAttempts } from '../../../../consumers/tracing/traced-attempts.ts';
import type { HandlerAttempts } from '../../../../consumers/handler-attempts.ts';

const header = (name: string, value: string) => ({ name: Buffer.from(name), value: Buffer.from(value) });

describe('the producer trace context of a record', () => {
  it('parses a W3C traceparent and tracestate', () => {
    const parsed = parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'vendor=abc,other=1');
    expect(parsed).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
    expect(parsed?.traceState?.get('other')).toBe('1');
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', undefined)?.traceFlags).toBe(0);
  });

  it('refuses what the W3C format refuses: version ff, zero ids, extra fields in version 00, upper case, garbage', () => {
    for (const bad of [
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      'not-a-traceparent',
      '',
    ]) {
      expect(parseTraceparent(bad, undefined), bad).toBeUndefined();
    }
    // A later version may add fields.
    expect(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more', undefined)?.spanId).toBe('b7ad6b7169203331');
  });

  it('reads the last traceparent of the record headers; none without one', () => {
    expect(producerSpanContext([])).toBeUndefined();
    const headers = [header('traceparent', '00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01'), header('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')];
    expect(producerSpanContext(headers)?.spanId).toBe('b7ad6b7169203331');
    expect(producerSpanContext([{ name: Buffer.from('traceparent'), value: null }])).toBeUndefined();
  });
});

describe('traced attempts without a tracer provider (the API no-op)', () => {
  it('run the attempts as they are: the same promise, no span, no header read', () => {
    const result = Promise.resolve({ ok: true as const, attempts: 1, durationMs: 1 });
    const calls: unknown[] = [];
    const attempts = { run: (...args: unknown[]) => (calls.push(args), result) } as unknown as HandlerAttempts<unknown>;
    const record = {
      topic: 't',
      partition: 0,
      offset: '1',
      key: null,
      value: null,
      get rawHeaders(): never {
        throw new Error('headers read while tracing is off');
      },
    };
    const hooks = { pause: async () => undefined, beforeRetry: async () => undefined };
    const returned = tracedAttempts(attempts, 'g').run({ eventId: 'e' } as never, 0, new AbortController().signal, hooks, {}, record);
    expect(returned).toBe(result);
    expect(calls).toHaveLength(1);
  });
});
