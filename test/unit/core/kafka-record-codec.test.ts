import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '../../../core/kafka-client.ts';
import { headersOf, rawHeadersOf, readHeader, type RecordHeader } from '../../../core/headers.ts';

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: object) => Encoded;
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (decoder: object, context: object) => { headers: Record<string, unknown> };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => { readVarIntBytes(): Buffer };

/** Encodes a record the way the producer does and decodes it the way the fetch path does. */
function roundTrip(headers: object): Record<string, unknown> {
  const encoded = encodeRecord({ key: Buffer.from('k'), value: Buffer.from('v'), headers }).buffer;
  const recordBytes = new Decoder(encoded).readVarIntBytes();
  return decodeRecord(new Decoder(recordBytes), { firstOffset: '0', firstTimestamp: '0' }).headers;
}

const hostileNames = [...Object.getOwnPropertyNames(Object.prototype), ''];

describe('record header codec', () => {
  it('keeps every header byte for byte and in order: Object.prototype names, empty and non-UTF-8 names, repeats', () => {
    const list: RecordHeader[] = [
      ...hostileNames.map((name) => ({ name: Buffer.from(name), value: Buffer.from(`value of ${name}`) })),
      { name: Buffer.from([0xff, 0xfe, 0x00, 0x80]), value: Buffer.from([0xc3, 0x28]) },
      { name: Buffer.from([0xff, 0xfe, 0x00, 0x81]), value: null },
      { name: Buffer.from('2'), value: Buffer.from('second') },
      { name: Buffer.from('1'), value: Buffer.from('first') },
      { name: Buffer.from('constructor'), value: Buffer.from('again') },
      { name: Buffer.from('__proto__'), value: Buffer.from('again') },
    ];
    const decoded = roundTrip(headersOf(list));
    expect(rawHeadersOf(decoded as never).map(({ name, value }) => [name.toString('hex'), value?.toString('hex') ?? null])).toEqual(
      list.map(({ name, value }) => [name.toString('hex'), value?.toString('hex') ?? null]),
    );
    // The object form never hands out an inherited value.
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(readHeader(decoded as never, 'constructor')).toBe('again');
    expect(readHeader(decoded as never, 'toString')).toBe('value of toString');
    expect(readHeader(decoded as never, 'hasOwnProperty')).toBe('value of hasOwnProperty');
    expect(readHeader(decoded as never, '__proto__')).toBe('again');
    expect(readHeader(decoded as never, 'valueOf')).toBe('value of valueOf');
  });

  it('keeps a thousand headers', () => {
    const list = Array.from({ length: 1_000 }, (_, index) => ({ name: Buffer.from(`h${index % 10}`), value: Buffer.from(String(index)) }));
    const decoded = rawHeadersOf(roundTrip(headersOf(list)) as never);
    expect(decoded).toHaveLength(1_000);
    expect(decoded.map(({ value }) => value!.toString())).toEqual(list.map(({ value }) => value.toString()));
  });

  it('still writes a plain headers object as kafkajs did', () => {
    const decoded = rawHeadersOf(roundTrip({ a: 'x', b: [Buffer.from('y'), 'z'] }) as never);
    expect(decoded.map(({ name, value }) => `${name.toString()}=${value?.toString()}`)).toEqual(['a=x', 'b=y', 'b=z']);
  });
});
