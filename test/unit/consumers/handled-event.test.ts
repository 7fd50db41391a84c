import { describe, expect, it } from 'vitest';
import { createHandledEvent, payloadHashOf } from '../../../consumers/handled-event.ts';

describe('createHandledEvent', () => {
  const record = { partition: 2, key: Buffer.from('k-1'), value: Buffer.from('payload'), headers: { 'orderly-event-type': 'a.B', odd: Buffer.from([0xff]), both: ['x', 'y'] } };

  it('decodes the headers and hashes the payload on first read, as the record had them', () => {
    const event = createHandledEvent({ topic: 'orders', offset: '41', timestamp: '1000' }, record, 'decoded', 'event-1', 'a.B');
    expect({ topic: event.topic, partition: event.partition, offset: event.offset, key: event.key, value: event.value, eventId: event.eventId, eventType: event.eventType, timestamp: event.timestamp }).toEqual({
      topic: 'orders',
      partition: 2,
      offset: '41',
      key: 'k-1',
      value: 'decoded',
      eventId: 'event-1',
      eventType: 'a.B',
      timestamp: '1000',
    });
    expect(event.headers).toEqual({ 'orderly-event-type': 'a.B', both: 'y' });
    expect(event.headers).toBe(event.headers);
    expect(event.payloadHash).toBe(payloadHashOf(Buffer.from('payload')));
    expect(JSON.parse(JSON.stringify(event)).headers).toEqual({ 'orderly-event-type': 'a.B', both: 'y' });
  });
});
