/**
 * `context.emit`: derived ids (the same on every attempt, distinct per group, source and index), the attempt
 * settles only after its emits were acknowledged (awaited or not), a failed emit fails the attempt even when
 * the handler swallowed it, a malformed event fails it as non-retryable, and an emit after the attempt is refused.
 */
import { describe, expect, it } from 'vitest';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import { MissingKeyError } from '../../../../producers/producer-errors.ts';
import { NonRetryableError } from '../../../../core/errors.ts';
import { AttemptEmits, emittedEventId, type EmitProducer } from '../../../../consumers/emit/attempt-emits.ts';
import { ConsumerEventEmitter } from '../../../../consumers/events.ts';
import { HandlerAttempts } from '../../../../consumers/handler-attempts.ts';
import { validateOrderedConsumerOptions, type EventHandler, type HandledEvent } from '../../../../consumers/options.ts';
import type { OutgoingEvent, PublishedEvent } from '../../../../producers/outgoing-event.ts';

/** A producer whose publishes wait until the test lets them through (or fails them). */
class HeldProducer implements EmitProducer {
  readonly published: OutgoingEvent<unknown>[] = [];
  readonly #waiting: { resolve: (published: PublishedEvent) => void; reject: (error: unknown) => void; event: OutgoingEvent<unknown> }[] = [];
  auto = false;
  failWith: unknown;

  publish<V>(event: OutgoingEvent<V>): Promise<PublishedEvent> {
    const outgoing = event as OutgoingEvent<unknown>;
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    if (this.auto) {
      this.published.push(outgoing);
      return Promise.resolve({ eventId: outgoing.eventId!, topic: outgoing.topic!, partition: 0, offset: String(this.published.length) });
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject, event: outgoing }));
  }

  get held(): number {
    return this.#waiting.length;
  }

  releaseAll(): void {
    for (const { resolve, event } of this.#waiting.splice(0)) {
      this.published.push(event);
      resolve({ eventId: event.eventId!, topic: event.topic!, partition: 0, offset: String(this.published.length) });
    }
  }
}

const schema = JSON.stringify({ type: 'record', name: 'test.Step', fields: [{ name: 'n', type: 'int' }] });
const source = { topic: 'a', partition: 0, offset: '0', key: 'k', value: null, eventId: 'source-1', eventType: 'test.A', headers: {}, timestamp: '0', payloadHash: 'h' } satisfies HandledEvent<null>;
const record = { topic: 'a', partition: 0, offset: '0' };
const hooks = { pause: async () => undefined, beforeRetry: async () => undefined };

function attemptsWith(producer: EmitProducer | undefined, handler: EventHandler<null>, inPlaceRetries = 0): HandlerAttempts<null> {
  const options = validateOrderedConsumerOptions<null>({ kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['a'], retryTiersMs: [], inPlaceRetries, retryBackoffMs: 1, handlerTimeoutMs: 5_000, handler, ...(producer ? { producer } : {}) });
  return new HandlerAttempts(options, new ConsumerEventEmitter());
}

describe('emitted event ids', () => {
  it('are UUIDv5 of group, source and index: the same every time, different when any of them differs', () => {
    const id = emittedEventId('g', 'source-1', 0);
    expect(isUuid(id) && uuidVersion(id)).toBe(5);
    expect(emittedEventId('g', 'source-1', 0)).toBe(id);
    expect(new Set([id, emittedEventId('g', 'source-1', 1), emittedEventId('g', 'source-2', 0), emittedEventId('h', 'source-1', 0)]).size).toBe(4);
  });
});

describe('context.emit', () => {
  it('numbers the emits of each attempt from 0, so a retried attempt emits the same ids', async () => {
    const producer = new HeldProducer();
    producer.auto = true;
    const attempts = attemptsWith(
      producer,
      async (_event, { emit, attempt }) => {
        await emit('b', 'k', { schema, value: { n: 1 } }); // destructured: emit needs no `this`
        await emit('c', 'k', { schema, value: { n: 2 } });
        if (attempt === 1) throw new Error('fails after emitting');
      },
      1,
    );
    const result = await attempts.run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    const ids = producer.published.map((event) => `${event.topic} ${event.eventId}`);
    expect(ids).toEqual([`b ${emittedEventId('g', 'source-1', 0)}`, `c ${emittedEventId('g', 'source-1', 1)}`, `b ${emittedEventId('g', 'source-1', 0)}`, `c ${emittedEventId('g', 'source-1', 1)}`]);
    expect(producer.published[0]).toMatchObject({ key: 'k', value: { n: 1 }, schema });
  });

  it('settles the attempt only once every emit was acknowledged, awaited or not', async () => {
    const producer = new HeldProducer();
    const attempts = attemptsWith(producer, async (_event, context) => {
      void context.emit('b', 'k', { schema, value: { n: 1 } }); // not awaited
      void context.emit('b', 'k', { schema, value: { n: 2 } });
    });
    let settled = false;
    const running = attempts.run(source, 0, new AbortController().signal, hooks, undefined, record).then((result) => {
      settled = true;
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect({ settled, held: producer.held }).toEqual({ settled: false, held: 2 });
    producer.releaseAll();
    expect(await running).toMatchObject({ ok: true });
    expect(producer.published).toHaveLength(2);
  });

  it('fails the attempt with a failed emit, even when the handler caught it; retryable unless the event is malformed', async () => {
    const producer = new HeldProducer();
    producer.failWith = new Error('broker down');
    const swallowing = attemptsWith(producer, async (_event, context) => {
      await context.emit('b', 'k', { schema, value: { n: 1 } }).catch(() => undefined);
    });
    const failed = await swallowing.run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(failed).toMatchObject({ ok: false, error: new Error('broker down') });

    producer.failWith = new MissingKeyError({ topic: 'b' });
    const malformed = await attemptsWith(producer, async (_event, context) => void (await context.emit('b', '', { schema, value: { n: 1 } }))).run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(malformed.ok).toBe(false);
    expect((malformed as { error: unknown }).error).toBeInstanceOf(NonRetryableError);
    expect(String((malformed as { error: Error }).error.message)).toMatch(/^emit 0 to b: /);
  });

  it('refuses an emit made after the attempt settled by a handler that had emitted nothing before returning', async () => {
    const producer = new HeldProducer();
    producer.auto = true;
    let stray: (() => Promise<PublishedEvent>) | undefined;
    const attempts = attemptsWith(producer, async (_event, context) => {
      stray = () => context.emit('b', 'k', { schema, value: { n: 1 } }); // called later, by a stray callback
    });
    expect(await attempts.run(source, 0, new AbortController().signal, hooks, undefined, record)).toMatchObject({ ok: true });
    // The source may be committed by now: an emit under its id would land after it, in no attempt.
    expect(() => stray!()).toThrow(/came after its handler's attempt had settled/);
    expect(producer.published).toEqual([]);
  });

  it('refuses an emit of an attempt that timed out, made after the timeout', async () => {
    const producer = new HeldProducer();
    producer.auto = true;
    let late: Promise<unknown> | undefined;
    const options = validateOrderedConsumerOptions<null>({
      kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['a'], retryTiersMs: [], inPlaceRetries: 0, handlerTimeoutMs: 50, producer,
      handler: async (_event, context) => {
        await new Promise((resolve) => setTimeout(resolve, 150)); // past its deadline, its signal ignored
        late = (async () => context.emit('b', 'k', { schema, value: { n: 1 } }))();
        late.catch(() => undefined); // asserted below; handled now so it is not an unhandled rejection meanwhile
      },
    });
    const result = await new HandlerAttempts(options, new ConsumerEventEmitter()).run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect(result).toMatchObject({ ok: false, timedOut: true });
    await new Promise((resolve) => setTimeout(resolve, 250));
    await expect(late).rejects.toThrow(/came after its handler's attempt had settled/);
    expect(producer.published).toEqual([]);
  });

  it('refuses an emit after the attempt settled, and an emit without a producer', async () => {
    const producer = new HeldProducer();
    producer.auto = true;
    const emits = new AttemptEmits(producer, 'g', 'source-1');
    await emits.emit('b', 'k', { schema, value: { n: 1 } });
    await emits.settled();
    expect(() => emits.emit('b', 'k', { schema, value: { n: 2 } })).toThrow(/came after its handler's attempt had settled/);
    const withoutProducer = await attemptsWith(undefined, async (_event, context) => void (await context.emit('b', 'k', { schema, value: { n: 1 } }))).run(source, 0, new AbortController().signal, hooks, undefined, record);
    expect((withoutProducer as { error: Error }).error).toBeInstanceOf(NonRetryableError);
    expect(String((withoutProducer as { error: Error }).error.message)).toMatch(/needs the consumer option `producer`/);
  });
});
