import { describe, expect, it } from 'vitest';
import { cancelRecordOf, deliveryHeaders, deliveryTimeOf } from '../../../producers/delivery-time.ts';

describe('delivery time', () => {
  it('turns deliverAt or delayMs into epoch ms, once', () => {
    expect(deliveryTimeOf({}, 1_000)).toBeUndefined();
    expect(deliveryTimeOf({ delayMs: 250 }, 1_000)).toBe(1_250);
    expect(deliveryTimeOf({ deliverAt: new Date(5_000) }, 1_000)).toBe(5_000);
    expect(deliveryTimeOf({ deliverAt: 4_000.2 }, 1_000)).toBe(4_001); // rounded up: never early
  });

  it('refuses both at once, negative or non-finite values, and more than a year', () => {
    expect(() => deliveryTimeOf({ delayMs: 1, deliverAt: 5 })).toThrow(/not both/);
    expect(() => deliveryTimeOf({ delayMs: -1 })).toThrow(/>= 0/);
    expect(() => deliveryTimeOf({ delayMs: Number.NaN })).toThrow();
    expect(() => deliveryTimeOf({ delayMs: 400 * 86_400_000 })).toThrow(/year/);
    expect(() => deliveryTimeOf({ deliverAt: new Date(Number.NaN) })).toThrow();
  });

  it('adds orderly-deliver-at, which no extra header can set or forge', () => {
    expect(deliveryHeaders({}, { a: 'b' })).toEqual({ a: 'b' });
    expect(deliveryHeaders({}, { 'Orderly-Deliver-At': '1', 'orderly-cancels': 'x', a: 'b' })).toEqual({ a: 'b' });
    expect(deliveryHeaders({ deliverAt: 7 }, undefined)).toEqual({ 'orderly-deliver-at': '7' });
  });

  it('builds a cancel record on the event key naming the event', () => {
    const record = cancelRecordOf({ eventId: 'e-1', key: 'k', topic: 't' });
    expect(record).toMatchObject({ topic: 't', key: 'k', headers: { 'orderly-cancels': 'e-1' } });
    expect(record.value.length).toBe(0);
    expect(record.eventId).not.toBe('e-1');
    expect(() => cancelRecordOf({ eventId: '', key: 'k', topic: 't' })).toThrow();
  });
});
