import { describe, expect, it } from 'vitest';
import { consumedRecordOf, readHeader, readHeaders, recordDelay, recordHeader } from '../../../consumers/consumed-record.ts';
import { readDelay } from '../../../consumers/delays/delay-headers.ts';
import { headersOf, readRawHeader } from '../../../core/headers.ts';
import type { KafkaMessage } from '../../../core/kafka-client.ts';

/** A message whose key, value and header values are slices of one "fetch response", as kafkajs gives them. */
function sliced(headers: Record<string, Buffer[] | Buffer>): { message: KafkaMessage; response: Buffer } {
  // Buffer.alloc is never a slice of Node's shared pool: its ArrayBuffer stands for the response.
  const response = Buffer.alloc(16);
  response.write('key-1value-bytes');
  const message = { key: response.subarray(0, 5), value: response.subarray(5), headers, offset: '7', timestamp: '1000', attributes: 0 } as unknown as KafkaMessage;
  return { message, response };
}

describe('consumedRecordOf', () => {
  it('copies the key, the value and every header, so the record pins no fetch response', () => {
    const response = Buffer.alloc(64, 0x61);
    const invalid = response.subarray(0, 2).fill(0xff);
    const { message, response: fetched } = sliced({ 'orderly-event-id': response.subarray(10, 20), odd: invalid, twice: [response.subarray(20, 21), response.subarray(21, 23)] });
    const record = consumedRecordOf(message, 't', 't', 0, 't\u00000');
    expect(record.key?.toString()).toBe('key-1');
    expect(record.value?.toString()).toBe('value-bytes');
    expect(record.key?.buffer).not.toBe(fetched.buffer);
    expect(record.value?.buffer).not.toBe(fetched.buffer);
    expect(record.headers['orderly-event-id']).toBe('aaaaaaaaaa');
    expect(record.headers.twice).toEqual(['a', 'aa']);
    const odd = record.headers.odd as Buffer;
    expect(Buffer.isBuffer(odd) && odd.buffer !== response.buffer && odd.equals(Buffer.from([0xff, 0xff]))).toBe(true);
    expect(readHeader(record.headers, 'odd')).toBeUndefined();
    expect(readHeaders(record.headers)).toEqual({ 'orderly-event-id': 'aaaaaaaaaa', twice: 'aa' });
  });

  it('reads headers as before the copy: a leading BOM is dropped, a __proto__ header is data on a null-prototype object', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x78]);
    const headers = { b: bom } as Record<string, Buffer>;
    Object.defineProperty(headers, '__proto__', { value: Buffer.from('p'), enumerable: true });
    const record = consumedRecordOf(sliced(headers).message, 't', 't', 0, 't\u00000');
    expect(readHeader(record.headers, 'b')).toBe('x');
    expect(Object.getPrototypeOf(record.headers)).toBeNull();
    expect(Object.hasOwn(record.headers, '__proto__')).toBe(true);
    expect(readHeader(record.headers, '__proto__')).toBe('p');
    expect(record.rawHeaders.map(({ name }) => name.toString())).toEqual(['b', '__proto__']);
  });

  it('reads one header from the record\'s bytes exactly as readRawHeader reads the header list', () => {
    const nonUtf8 = Buffer.from([0xff, 0xfe]);
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x78]);
    const long = Buffer.from('é'.repeat(200), 'utf8');
    const headers = { 'orderly-event-id': Buffer.from('e-1'), repeated: [Buffer.from('first'), Buffer.from('last')], odd: nonUtf8, bom, long, empty: Buffer.alloc(0) } as Record<string, Buffer | Buffer[]>;
    const record = consumedRecordOf(sliced(headers).message, 't', 't', 0, 't\u00000');
    for (const name of ['orderly-event-id', 'repeated', 'odd', 'bom', 'long', 'empty', 'missing', 'orderly-event-i']) {
      expect(recordHeader(record, name), name).toBe(readRawHeader(record.rawHeaders, name));
    }
    expect(recordHeader(record, 'repeated')).toBe('last');
    expect(recordHeader(record, 'long')).toBe('é'.repeat(200));
    expect(record.rawHeaders.map((header) => header.name.toString())).toEqual(['orderly-event-id', 'repeated', 'repeated', 'odd', 'bom', 'long', 'empty']);
  });
});

describe('consumedRecordOf: one allocation for the bytes and the header positions', () => {
  it('keeps key, value and every header exact beside the positions, null values and an absent key and value included', () => {
    const names = Array.from({ length: 40 }, (_, index) => `h-${index}`);
    const list = names.map((name, index) => ({ name: Buffer.from(name), value: index % 7 === 3 ? null : Buffer.from(`v`.repeat(index)) }));
    const headers = headersOf(list);
    for (const [key, value] of [
      [Buffer.from('k'), Buffer.from('value')],
      [null, null],
      [Buffer.alloc(0), Buffer.alloc(5_000, 0x62)],
    ] as const) {
      const message = { key, value, headers, offset: '1', timestamp: '2', attributes: 0 } as unknown as KafkaMessage;
      const record = consumedRecordOf(message, 't', 't', 0, 't\u00000');
      expect(record.key === null ? null : Buffer.from(record.key)).toEqual(key === null ? null : Buffer.from(key));
      expect(record.value === null ? null : Buffer.from(record.value)).toEqual(value === null ? null : Buffer.from(value));
      expect(record.rawHeaders.map((header) => [header.name.toString(), header.value?.toString() ?? null])).toEqual(list.map((header) => [header.name.toString(), header.value?.toString() ?? null]));
      for (const [index, name] of names.entries()) expect(recordHeader(record, name), name).toBe(index % 7 === 3 ? undefined : 'v'.repeat(index));
    }
    const bare = consumedRecordOf({ key: null, value: Buffer.from('x'), headers: {}, offset: '1', timestamp: '2', attributes: 0 } as unknown as KafkaMessage, 't', 't', 0, 't\u00000');
    expect(bare.rawHeaders).toEqual([]);
    expect(recordHeader(bare, 'orderly-event-id')).toBeUndefined();
    expect(bare.value?.toString()).toBe('x');
  });
});

describe('recordDelay (the delay headers read from a fetched record\'s own bytes)', () => {
  it('answers as readDelay over the header list, for every case readDelay is tested with', () => {
    const cases: [Record<string, string | Buffer>[], Buffer | null][] = [
      [[{ 'orderly-event-id': 'x' }], null],
      [[{ 'orderly-deliver-at': '1700000000000' }], Buffer.from('{}')],
      [[{ 'orderly-deliver-at': '1' }, { 'orderly-deliver-at': '2' }], Buffer.from('{}')],
      [[{ 'orderly-cancels': 'e-1', 'orderly-deliver-at': '5' }], null],
      [[{ 'orderly-cancels': 'e-1', 'orderly-deliver-at': '5' }], Buffer.from('{}')],
      [[{ 'orderly-cancels': 'e-1' }], Buffer.alloc(0)],
      [[{ 'orderly-cancels': 'e-1' }], Buffer.from('{}')],
      [[{ 'orderly-cancels': '' }], null],
      [[{ 'orderly-cancels': 'x'.repeat(201) }], null],
      [[{ 'orderly-deliver-ax': '5' }], null],
      ...['', '-5', '1.5', 'soon', '12345678901234567', Buffer.from([0xff, 0xfe])].map((value): [Record<string, string | Buffer>[], Buffer | null] => [[{ 'orderly-deliver-at': value }], null]),
    ];
    for (const [parts, value] of cases) {
      const headers = parts.flatMap((part) => Object.entries(part).map(([name, header]) => ({ name: Buffer.from(name), value: Buffer.isBuffer(header) ? header : Buffer.from(header) })));
      // kafkajs hands repeated names as an array: one header object per name, the values in order.
      const kafkaHeaders: Record<string, Buffer[]> = {};
      for (const { name, value: header } of headers) (kafkaHeaders[name.toString()] ??= []).push(header);
      const message = { offset: '0', key: Buffer.from('k'), value, timestamp: '0', attributes: 0, headers: kafkaHeaders, size: 0 } as unknown as KafkaMessage;
      const record = consumedRecordOf(message, 't', 't', 0, 't\u00000');
      expect(recordDelay(record), JSON.stringify(parts)).toEqual(readDelay(record.rawHeaders, value));
    }
  });
});
