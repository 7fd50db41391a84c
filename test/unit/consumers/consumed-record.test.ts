import { describe, expect, it } from 'vitest';
import { consumedRecordOf, readHeader, readHeaders, recordHeader } from '../../../consumers/consumed-record.ts';
import { readRawHeader } from '../../../core/headers.ts';
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
