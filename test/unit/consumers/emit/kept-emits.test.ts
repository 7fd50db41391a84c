/**
 * `transactional: true`: an emit is encoded and kept with its attempt, never published from the handler's
 * context. The attempt that succeeds hands its emits over, in call order (not in the order their encodings
 * finished); a failed attempt's are dropped; a malformed event fails the attempt as non-retryable, a missing
 * topic as retryable, as without transactions.
 */
import { describe, expect, it } from 'vitest';
import { NonRetryableError, OrderlyError } from '../../../../core/errors.ts';
import { emittedEventId, type EmitEncoder, type EmitProducer } from '../../../../consumers/emit/attempt-emits.ts';
import { ConsumerEventEmitter } from '../../../../consumers/events.ts';
import { HandlerAttempts } from '../../../../consumers/handler-attempts.ts';
import { validateOrderedConsumerOptions, type EventHandler, type HandledEvent } from '../../../../consumers/options.ts';
import type { EncodedRecord, OutgoingEvent } from '../../../../producers/outgoing-event.ts';
import { MissingKeyError } from '../../../../producers/producer-errors.ts';

const schema = JSON.stringify({ type: 'record', name: 'test.Step', fields: [{ name: 'n', type: 'int' }] });
const source = { topic: 'a', partition: 0, offset: '0', key: 'k', value: null, eventId: 'source-1', eventType: 'test.A', headers: {}, timestamp: '0', payloadHash: 'h' } satisfies HandledEvent<null>;
const record = { topic: 'a', partition: 0, offset: '0' };
const hooks = { pause: async () => undefined, beforeRetry: async () => undefined };

/** Encodes the value's `n` into the value bytes; the first emit of each attempt takes longer than the second. */
class SlowFirstEncoder implements EmitEncoder {
  calls = 0;
  failWith: ((event: OutgoingEvent<unknown>) => unknown) | undefined;
  async encode<V>(event: OutgoingEvent<V> & { topic: string; eventId: string }): Promise<EncodedRecord> {
    const call = this.calls++;
    const failure = this.failWith?.(event as OutgoingEvent<unknown>);
    if (failure) throw failure;
    await new Promise((resolve) => setTimeout(resolve, call % 2 === 0 ? 30 : 1));
    return { topic: event.topic, eventId: event.eventId, key: event.key, value: Buffer.from(String((event.value as { n: number }).n)), headers: {} };
  }
}

const neverPublishes: EmitProducer & { encodeBatch: () => never } = {
  publish: () => Promise.reject(new Error('a kept emit must never be published from the handler')),
  encodeBatch: () => {
    throw new Error('not called: the encoder is given');
  },
};

function attemptsWith(encoder: EmitEncoder, handler: EventHandler<null>, inPlaceRetries = 0): HandlerAttempts<null> {
  const options = validateOrderedConsumerOptions<null>({ kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['a'], retryTiersMs: [], inPlaceRetries, retryBackoffMs: 1, handlerTimeoutMs: 5_000, handler, producer: neverPublishes, transactional: true });
  return new HandlerAttempts(options, new ConsumerEventEmitter(), encoder);
}

describe('kept emits (transactional)', () => {
  it("hands over the succeeded attempt's emits in call order, and none of the failed attempt's", async () => {
    const encoder = new SlowFirstEncoder();
    const attempts = attemptsWith(
      encoder,
      async (_event, { emit, attempt }) => {
        const written = await Promise.all([emit('b', 'k', { schema, value: { n: attempt * 10 + 1 } }), emit('c', 'k', { schema, value: { n: attempt * 10 + 2 } })]);
        expect(written.map(({ partition, offset }) => `${partition}/${offset}`)).toEqual(['-1/-1', '-1/-1']); // written at the commit
        if (attempt === 1) throw new Error('fails after emitting');
      },
      1,
    );
    const result = await attempts.run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    const emitted = (result as { emitted: EncodedRecord[] }).emitted;
    expect(emitted.map(({ topic, eventId, value }) => `${topic} ${eventId} ${value.toString()}`)).toEqual([
      `b ${emittedEventId('g', 'source-1', 0)} 21`,
      `c ${emittedEventId('g', 'source-1', 1)} 22`,
    ]);
  });

  it('fails the attempt on a malformed event (non-retryable) and on a missing topic (retryable), even when caught', async () => {
    const encoder = new SlowFirstEncoder();
    encoder.failWith = (event) => (event.topic === 'missing' ? new OrderlyError('KAFKA', 'emit to missing: the topic does not exist', { retriable: true }) : new MissingKeyError({ topic: event.topic! }));
    const malformed = await attemptsWith(encoder, async (_event, context) => void (await context.emit('b', '', { schema, value: { n: 1 } }))).run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect((malformed as { error: unknown }).error).toBeInstanceOf(NonRetryableError);
    const missing = await attemptsWith(encoder, async (_event, context) => {
      await context.emit('missing', 'k', { schema, value: { n: 1 } }).catch(() => undefined);
    }).run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(missing).toMatchObject({ ok: false });
    expect((missing as { error: unknown }).error).not.toBeInstanceOf(NonRetryableError);
    expect(String((missing as { error: Error }).error.message)).toMatch(/does not exist/);
  });

  it('refuses transactional: true without an EventProducer to encode', () => {
    const handler: EventHandler<null> = async () => undefined;
    expect(() => validateOrderedConsumerOptions<null>({ kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['a'], retryTiersMs: [], handler, transactional: true })).toThrow(/transactional: true needs `producer`/);
    expect(() => validateOrderedConsumerOptions<null>({ kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['a'], retryTiersMs: [], handler, transactional: true, producer: { publish: neverPublishes.publish } })).toThrow(/an EventProducer/);
  });
});
