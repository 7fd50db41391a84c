/**
 * The failure path with real classes (RecordProcessor, HandlerAttempts, KeyParking, ConsumerEventEmitter,
 * DeadLetterPublisher); only the broker and the parking store are in memory.
 */
import { describe, expect, it } from 'vitest';
import { consumedRecordOf, readRetryState } from '../../../consumers/consumed-record.ts';
import { ProducerForwarder, type RecordForwarder } from '../../../consumers/dead-letter/dead-letter-publisher.ts';
import type { ForwardFailure } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { ConsumerEventEmitter } from '../../../consumers/events.ts';
import { validateOrderedConsumerOptions, type OrderedConsumerOptions } from '../../../consumers/options.ts';
import { RecordAbandoned, RecordProcessor, type RecordLiveness } from '../../../consumers/record-processor.ts';
import { KeyParking } from '../../../consumers/retries/key-parking.ts';
import { MemoryParkingStore } from '../../../consumers/retries/memory-parking-store.ts';
import type { ParkedKey, ParkingStore } from '../../../consumers/retries/parking-store.ts';
import { headersOf, rawHeadersOf } from '../../../core/headers.ts';
import type { KafkaMessage, Producer } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';

interface Sent {
  topic: string;
  key: string | null;
  failure: ForwardFailure;
  form?: string;
}

/** A broker in memory: records every forward; `reject` decides which forwards fail and how. */
class MemoryForwarder implements RecordForwarder {
  readonly sent: Sent[] = [];
  reject: (topic: string, form: string | undefined) => unknown = () => undefined;

  async forward(topic: string, record: { key: Buffer | null }, failure: ForwardFailure, _origin: unknown, form?: string): Promise<void> {
    const error = this.reject(topic, form);
    if (error) throw error;
    this.sent.push({ topic, key: record.key?.toString() ?? null, failure, form });
  }
}

function setup(overrides: Partial<OrderedConsumerOptions<unknown>>, parkingStore?: ParkingStore) {
  const events = new ConsumerEventEmitter();
  const forwarder = new MemoryForwarder();
  const options = validateOrderedConsumerOptions<unknown>({
    kafka: { brokers: ['127.0.0.1:9'] },
    groupId: 'g',
    topics: ['orders'],
    retryTiersMs: [],
    inPlaceRetries: 0,
    handler: async () => undefined,
    ...(parkingStore ? { parkingStore } : {}),
    ...overrides,
  } as OrderedConsumerOptions<unknown>);
  const parking = parkingStore ? new KeyParking(parkingStore) : undefined;
  const processor = new RecordProcessor(options, { forwarder, events, logger: createLogger(), fencingToken: () => 'm/1', parking, tierOf: () => undefined });
  return { processor, forwarder, events };
}

const controller = new AbortController();
const live: RecordLiveness = { epoch: 1, isCurrent: () => true, signal: controller.signal };

function message(offset: number, key: string | null, value: string, headers: Record<string, string> = {}): KafkaMessage {
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value: Buffer.from(value), timestamp: String(Date.now()), attributes: 0, headers, size: 0 } as unknown as KafkaMessage;
}

function record(offset: number, key: string | null, value = '{}', headers: Record<string, string> = {}) {
  return consumedRecordOf(message(offset, key, value, headers), 'orders', 'orders', 0, 'orders\u00000');
}

describe('RecordProcessor: unexpected errors are handler failures (issue 15, defect 6)', () => {
  it('an isRetryable that throws dead-letters the event as non-retryable instead of rejecting', async () => {
    const { processor, forwarder } = setup({ handler: async () => Promise.reject(new Error('downstream')), isRetryable: () => { throw new Error('callback bug'); }, inPlaceRetries: 2 });
    await expect(processor.process(record(0, 'k'), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent).toHaveLength(1);
    expect(forwarder.sent[0]!.failure.reason).toBe('non-retryable');
    expect(String((forwarder.sent[0]!.failure.error as Error).message)).toMatch(/isRetryable threw/);
  });

  it.each([
    ['Object.create(null)', () => Object.create(null) as unknown],
    ['a string', () => 'nope'],
    ['undefined', () => undefined],
    ['null', () => null],
    ['a number', () => 42],
  ])('a handler rejecting with %s is a failure with a reason code', async (_name, thrown) => {
    const { processor, forwarder } = setup({ handler: () => Promise.reject(thrown()), inPlaceRetries: 1 });
    await expect(processor.process(record(0, 'k'), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent.map(({ failure }) => failure.reason)).toEqual(['retries-exhausted']);
  });

  it('a consumer.events listener that throws changes nothing for the record', async () => {
    const { processor, forwarder, events } = setup({ handler: async () => Promise.reject(new Error('x')) });
    let reported = 0;
    events.onListenerError = () => reported++;
    for (const name of ['consumer.record.failed', 'consumer.record.dead-lettered', 'consumer.forward.failed'] as const) {
      events.on(name, () => {
        throw new Error(`listener of ${name}`);
      });
    }
    await expect(processor.process(record(0, 'k'), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent).toHaveLength(1);
    expect(reported).toBe(2);
  });
});

describe('RecordProcessor: an error nobody expected (issue 15, defect 6)', () => {
  it('processes the record again instead of rejecting, so its key lane is never freed early', async () => {
    const store = new MemoryParkingStore();
    await store.put('orders', 0, 'k', { queue: ['e-1'], headTier: 1, held: false, parkedAt: 0 });
    let reads = 0;
    const get = store.get.bind(store);
    // The first read returns a state no code expects (a bug elsewhere): processing throws a TypeError.
    store.get = async (...args) => (reads++ === 0 ? ({ queue: null, headTier: 1, held: false, parkedAt: 0 } as unknown as ParkedKey) : get(...args));
    const handled: string[] = [];
    const { processor } = setup({ handler: async (event) => void handled.push(event.eventId) }, store);
    await expect(processor.process(record(0, 'k', '{}', { 'orderly-event-id': 'e-1' }), live)).resolves.toBe('handled');
    expect(reads).toBe(2);
    expect(handled).toEqual(['e-1']);
    expect(await store.get('orders', 0, 'k')).toBeUndefined();
  });
});

describe('RecordProcessor: every route out of a parked head advances the queue (issue 15, defect 9)', () => {
  it.each([
    ['decode error', { value: '{not json', expired: false }],
    ['expired', { value: '{}', expired: true }],
  ])('a parked head dead-lettered for a %s leaves the queue to its successor', async (_name, { value, expired }) => {
    const store = new MemoryParkingStore();
    await store.put('orders', 0, 'k', { queue: ['e-1', 'e-2'], headTier: 1, held: false, parkedAt: 0 });
    const { processor, forwarder } = setup({ decoder: jsonDecoder as never, ...(expired ? { maxEventAgeMs: 1_000 } : {}) }, store);
    const headers = { 'orderly-event-id': 'e-1', ...(expired ? { 'orderly-occurred-at': new Date(0).toISOString() } : {}) };
    await expect(processor.process(record(0, 'k', value, headers), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent.map(({ failure }) => failure.reason)).toEqual([expired ? 'expired' : 'decode-error']);
    expect(await store.get('orders', 0, 'k')).toMatchObject({ queue: ['e-2'], held: false });
  });

  it("under 'hold', a parked head that fails to decode holds its key and leaves the queue", async () => {
    const store = new MemoryParkingStore();
    await store.put('orders', 0, 'k', { queue: ['e-1', 'e-2'], headTier: 1, held: false, parkedAt: 0 });
    const { processor } = setup({ decoder: jsonDecoder as never, onDeadLetter: 'hold' }, store);
    await processor.process(record(0, 'k', '{not json', { 'orderly-event-id': 'e-1' }), live);
    expect(await store.get('orders', 0, 'k')).toMatchObject({ queue: ['e-2'], held: true });
  });
});

describe('DeadLetterPublisher: a forward that can never succeed (issue 15, defect 2)', () => {
  const tooLarge = () => Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });

  it('a tier forward the broker rejects goes to the DLT without its own headers, as forward-rejected', async () => {
    const store = new MemoryParkingStore();
    const { processor, forwarder, events } = setup({ handler: async () => Promise.reject(new Error('x')), retryTiersMs: [10] }, store);
    const stuck: unknown[] = [];
    events.on('consumer.forward.stuck', (ref) => stuck.push(ref));
    forwarder.reject = (topic, form) => (topic.includes('retry') || form === undefined ? tooLarge() : undefined);
    await expect(processor.process(record(0, 'k', '{}', { 'orderly-event-id': 'e-1' }), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent).toHaveLength(1);
    expect(forwarder.sent[0]).toMatchObject({ topic: 'orders.g.dlt', form: 'headers-dropped' });
    expect(stuck).toEqual([]);
    // The key is not left parked behind an event that is gone.
    expect(await store.get('orders', 0, 'k')).toBeUndefined();
  });

  it('sends a stub when the record itself is too large, and stops the partition loudly when even the stub is rejected', async () => {
    const { processor, forwarder, events } = setup({ decoder: jsonDecoder as never });
    const stuck: unknown[] = [];
    events.on('consumer.forward.stuck', (ref) => stuck.push(ref));
    forwarder.reject = (_topic, form) => (form !== 'stub' ? tooLarge() : undefined);
    await expect(processor.process(record(0, 'k', '{not json'), live)).resolves.toBe('dead-lettered');
    expect(forwarder.sent.map(({ form }) => form)).toEqual(['stub']);

    forwarder.reject = () => tooLarge();
    const stop = new AbortController();
    const stopping: RecordLiveness = { epoch: 1, isCurrent: () => true, signal: stop.signal };
    const processing = processor.process(record(1, 'k', '{not json'), stopping);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stuck).toHaveLength(1);
    stop.abort(); // the consumer stops: the record is abandoned, never completed
    await expect(processing).rejects.toBeInstanceOf(RecordAbandoned);
  });

  it('encodes the reduced form with the forward headers and the envelope only', async () => {
    const { headersFor } = await import('../../../consumers/dead-letter/dead-letter-publisher.ts');
    const hostile = record(3, 'k', 'v', { 'orderly-event-id': 'e-9', constructor: 'x', big: 'y'.repeat(10_000) });
    const list = headersFor(hostile, 'g', { reason: 'decode-error', attempt: 0, firstFailureAt: 0 }, hostile, 'stub');
    const names = list.map(({ name }) => name.toString());
    expect(names).toContain('orderly-event-id');
    expect(names).not.toContain('big');
    expect(names).not.toContain('constructor');
    expect(list.find(({ name }) => name.toString() === 'orderly-dlt-reason')?.value?.toString()).toBe('forward-rejected');
    expect(list.find(({ name }) => name.toString() === 'orderly-original-offset')?.value?.toString()).toBe('3');
  });
});

describe('ProducerForwarder: a new producer after an ambiguous failure (issue 15, defect 13)', () => {
  it('replaces the producer after a timeout, not after a rejection, and only once for concurrent failures', async () => {
    const producers: { sends: number; fail: unknown }[] = [];
    let failWith: unknown = Object.assign(new Error('Request timed out'), { name: 'KafkaJSRequestTimeoutError' });
    const createProducer = () => {
      const state = { sends: 0, fail: failWith };
      producers.push(state);
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        send: async () => {
          state.sends++;
          if (state.fail) throw state.fail;
          return [];
        },
      } as unknown as Producer;
    };
    const forwarder = new ProducerForwarder({ createProducer, groupId: 'g', logger: createLogger() });
    const one = record(0, 'k');
    const failure = { attempt: 1, firstFailureAt: 0 };
    failWith = undefined; // the replacement works
    await Promise.all([1, 2, 3].map(() => forwarder.forward('t', one, failure, one).catch(() => undefined)));
    expect(producers).toHaveLength(2);
    expect(producers[0]!.sends).toBe(3);
    await forwarder.forward('t', one, failure, one);
    expect(producers[1]!.sends).toBe(1);

    producers[1]!.fail = Object.assign(new Error('too large'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });
    await expect(forwarder.forward('t', one, failure, one)).rejects.toThrow('too large');
    expect(producers).toHaveLength(2); // a rejection is certain: the sequence is not in doubt
  });
});

describe('intake (issue 15, defect 8)', () => {
  it('counts headers and keys in a record size', () => {
    const headers = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [`h${index}`, 'x'.repeat(1_000)]));
    const big = record(0, 'k'.repeat(10_000), '{}', headers);
    expect(big.size).toBeGreaterThanOrEqual(100 * 1_000 + 10_000);
    expect(rawHeadersOf(headersOf(big.rawHeaders))).toHaveLength(100);
  });

  it('parses the retry state once, from the headers', () => {
    const state = readRetryState({ 'orderly-attempt': '3', 'orderly-original-offset': '17', 'orderly-due-at': '5' }, { now: 10, maxDelayMs: 100 });
    expect(state).toMatchObject({ attempts: 3, originalOffset: '17', dueAt: 5 });
  });
});
