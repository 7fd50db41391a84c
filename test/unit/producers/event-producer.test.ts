import { describe, expect, it } from 'vitest';
import { EventProducer, type OutgoingEvent } from '../../../producers/event-producer.ts';
import { BackpressureError, MissingKeyError, PublishBatchError } from '../../../producers/producer-errors.ts';
import { envelopeHeaderNames, readEnvelope } from '../../../producers/envelope-headers.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import { FakeKafka, fakeRegistry, settle } from './fake-kafka.ts';

const schema = {
  type: 'record',
  name: 'FundsDeposited',
  namespace: 'orderly.ledger',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'sequence', type: 'long' },
  ],
} as const;

function event(key: unknown, sequence = 1): OutgoingEvent {
  return { topic: 'ledger', key: key as string, schema: schema as never, value: { accountId: String(key), sequence } };
}

describe('EventProducer', () => {
  it('refuses a missing or empty key with MISSING_KEY, and sends nothing (a batch is refused whole)', async () => {
    const kafka = new FakeKafka();
    const calls: string[] = [];
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(calls) });
    for (const key of [undefined, null, '', Buffer.alloc(0), 42]) {
      await expect(producer.publish(event(key))).rejects.toBeInstanceOf(MissingKeyError);
    }
    await expect(producer.publishBatch([event('acc-1'), event('')])).rejects.toMatchObject({ code: 'MISSING_KEY' });
    await settle();
    expect(kafka.pending).toHaveLength(0);
    expect(calls).toEqual([]);
    expect(producer.inFlight).toBe(0);
  });

  it('configures an idempotent producer and sends acks=all with the wire format and envelope headers', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true });
    const published = producer.publish({ ...event('acc-1'), eventId: 'event-1', occurredAt: new Date(Date.UTC(2025, 0, 31, 12)) });
    await settle();
    expect(kafka.config).toMatchObject({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    kafka.acknowledge();
    expect(await published).toEqual({ eventId: 'event-1', topic: 'ledger', partition: 0, offset: '0' });
    const [message] = kafka.sent;
    const value = message!.value as Buffer;
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(7);
    expect(readEnvelope(message!.headers)).toEqual({ eventId: 'event-1', eventType: 'orderly.ledger.FundsDeposited', occurredAt: '2025-01-31T12:00:00.000Z' });
  });

  it('gives a UUIDv7 event id by default and keeps the envelope from being overridden by extra headers', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true });
    const published = producer.publish({ ...event('acc-1'), headers: { [envelopeHeaderNames.eventType]: 'forged', 'x-tenant': 't1' } });
    await settle();
    kafka.acknowledge();
    const { eventId } = await published;
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(kafka.sent[0]!.headers).toMatchObject({ 'orderly-event-type': 'orderly.ledger.FundsDeposited', 'x-tenant': 't1', 'orderly-event-id': eventId });
  });

  it('registers on first use with autoRegister and asks the registry only once per subject and schema', async () => {
    const kafka = new FakeKafka();
    const calls: string[] = [];
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(calls), autoRegister: true });
    const sends = [producer.publish(event('a')), producer.publish(event('b')), producer.publish(event('c'))];
    for (let index = 0; index < 3; index += 1) {
      await settle();
      kafka.acknowledge();
    }
    await Promise.all(sends);
    expect(calls).toEqual(['POST /subjects/ledger-value/versions']);
  });

  it('only looks up without autoRegister, under the record name strategy, and says what to do when the schema is missing', async () => {
    const calls: string[] = [];
    const producer = new EventProducer({ kafka: new FakeKafka().asKafka(), registry: fakeRegistry(calls, true), subjectNameStrategy: 'record' });
    const error = await producer.publish(event('a')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SchemaRegistryError);
    expect((error as Error).message).toMatch(/autoRegister/);
    expect(calls).toEqual(['POST /subjects/orderly.ledger.FundsDeposited']);
  });

  it('with onFull wait: never more than maxInFlight events in flight; a publish at the bound waits for room', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true, maxInFlight: 3 });
    let resolved = 0;
    const sends = Array.from({ length: 10 }, (_, index) => producer.publish(event(`k${index}`)).then(() => (resolved += 1)));
    await settle();
    expect(kafka.pending).toHaveLength(3);
    expect(producer.inFlight).toBe(3);
    while (resolved < 10) {
      kafka.acknowledge();
      await settle();
      expect(kafka.messagesInFlight).toBeLessThanOrEqual(3);
    }
    await Promise.all(sends);
    expect(kafka.peakMessagesInFlight).toBe(3);
    // The order of publishes is kept.
    expect(kafka.sent.map((message) => message.key)).toEqual(Array.from({ length: 10 }, (_, index) => `k${index}`));
  });

  it('with onFull reject: throws BackpressureError at the bound and sends nothing more', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true, maxInFlight: 2, onFull: 'reject' });
    const first = [producer.publish(event('a')), producer.publish(event('b'))];
    await expect(producer.publish(event('c'))).rejects.toBeInstanceOf(BackpressureError);
    await expect(producer.publishBatch([event('d'), event('e'), event('f')])).rejects.toMatchObject({ code: 'BACKPRESSURE', retriable: true });
    await settle();
    expect(kafka.peakMessagesInFlight).toBe(2);
    kafka.acknowledge();
    kafka.acknowledge();
    await Promise.all(first);
    await settle();
    expect(kafka.sent.map((message) => message.key)).toEqual(['a', 'b']);
  });

  it('splits a batch larger than maxInFlight into chunks and reports consecutive offsets', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true, maxInFlight: 4 });
    const batch = producer.publishBatch(Array.from({ length: 10 }, (_, index) => event(`k${index}`, index)));
    for (let sends = 0; sends < 3; sends += 1) {
      await settle();
      expect(kafka.messagesInFlight).toBeLessThanOrEqual(4);
      kafka.acknowledge();
    }
    expect((await batch).map((published) => published.offset)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('close() waits for events in flight, then disconnects, and refuses new publishes', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true });
    const published = producer.publish(event('a'));
    await settle();
    let closed = false;
    const closing = producer.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    expect(kafka.disconnected).toBe(false);
    kafka.acknowledge();
    await closing;
    await published;
    expect(kafka.disconnected).toBe(true);
    await expect(producer.publish(event('b'))).rejects.toMatchObject({ code: 'STOPPED' });
  });

  it('close({ timeoutMs }): after the deadline a publish never acknowledged is rejected as unconfirmed and the producer disconnects', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true, maxInFlight: 2 });
    const single = producer.publish(event('a'));
    const batch = producer.publishBatch([event('b', 1), event('b', 2), event('b', 3)]).then(
      () => expect.unreachable(),
      (error: unknown) => error,
    );
    await settle();
    expect(kafka.pending).toHaveLength(1); // 'a'; the batch waits for room
    kafka.acknowledge();
    await settle();
    expect(kafka.pending).toHaveLength(1); // the batch's first chunk (b1, b2), never acknowledged
    await producer.close({ timeoutMs: 50 });
    expect(kafka.disconnected).toBe(true);
    await expect(single).resolves.toMatchObject({ offset: '0' });
    const failed = (await batch) as PublishBatchError;
    expect(failed).toBeInstanceOf(PublishBatchError);
    expect(failed.code).toBe('STOPPED');
    expect(failed.written).toEqual([]);
    expect(failed.notWritten.map((outgoing) => (outgoing.value as { sequence: number }).sequence)).toEqual([1, 2, 3]);
    expect(failed.unconfirmed).toBe(2);
  });

  it('close({ timeoutMs }) rejects a lone publish() with unconfirmed: 1 and returns without its acknowledgement', async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true });
    const published = producer.publish(event('a'));
    published.catch(() => undefined);
    await settle();
    await producer.close({ timeoutMs: 20 });
    expect(kafka.disconnected).toBe(true);
    await expect(published).rejects.toMatchObject({ code: 'STOPPED', unconfirmed: 1 });
  });

  it("publish()'s error says whether the event was sent unacknowledged (unconfirmed: 1) or certainly not written (0)", async () => {
    const kafka = new FakeKafka();
    const producer = new EventProducer({ kafka: kafka.asKafka(), registry: fakeRegistry(), autoRegister: true });
    const sent = producer.publish(event('a'));
    sent.catch(() => undefined);
    await settle();
    kafka.pending.shift()!.reject(new Error('request timed out'));
    await expect(sent).rejects.toMatchObject({ code: 'KAFKA', unconfirmed: 1 });
    // Refused before it reached the broker (no such schema, no autoRegister): certainly not written.
    const refused = new EventProducer({ kafka: new FakeKafka().asKafka(), registry: fakeRegistry([], true) });
    await expect(refused.publish(event('a'))).rejects.toMatchObject({ unconfirmed: 0 });
  });

  it('reports every bad option in one ConfigurationError', () => {
    try {
      new EventProducer({ kafka: {} as never, registry: {} as never, maxInFlight: 0, onFull: 'drop' as never });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).problems).toHaveLength(4);
    }
  });
});
