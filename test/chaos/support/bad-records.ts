/**
 * The kinds of bad input of the bad-input scenario: each builds one hostile record (its `index`-th) and says
 * what must become of it: the DLT with a reason code, or handled safely (applied once, as a normal event).
 * Every record carries `chaos-kind` so its fate can be found in the DLT.
 */
import { headersOf, type RecordHeader } from '../../../core/headers.ts';
import type { Message } from '../../../core/kafka-client.ts';

export type Outcome = { deadLetter: string } | 'applied';

export interface BadKind {
  name: string;
  outcome: Outcome;
  build(index: number, ids: SchemaIds): Message;
}

export interface SchemaIds {
  /** The scenario's subject's id (ChaosEvent). */
  own: number;
  /** An id registered under another subject. */
  other: number;
  /** A value of ChaosEvent, encoded with `own`. */
  encode(value: { key: string; sequence: number; tags: Record<string, string>; note: string }): Buffer;
}

function varint(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return bytes;
}

function framed(schemaId: number, body: number[] | Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, Buffer.from(body)]);
}

const avroString = (text: string | Buffer) => {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return [...varint(bytes.length), ...bytes];
};

/** A ChaosEvent body by hand: key, sequence, then a tags map with the given raw entries, then note. */
function body(key: string, mapBytes: number[], note: number[] = avroString('')): number[] {
  return [...avroString(key), ...varint(1), ...mapBytes, ...note];
}

const keyOf = (kind: string, index: number) => `bad-${kind}-${index}`;

/** A record that must be handled like any other: a valid value, sequence 1 of its own key. */
function validRecord(kind: string, index: number, ids: SchemaIds, headers: Message['headers'] = {}, key?: Buffer): Message {
  const text = keyOf(kind, index);
  return {
    key: key ?? text,
    value: ids.encode({ key: key ? key.toString('utf8') : text, sequence: 1, tags: {}, note: '' }),
    headers: { 'orderly-event-id': `${text}#1`, 'chaos-kind': kind, ...headers },
  };
}

function broken(kind: string, index: number, value: Buffer | null, key: string | null = keyOf(kind, index)): Message {
  return { key, value, headers: { 'orderly-event-id': `${keyOf(kind, index)}#1`, 'chaos-kind': kind } };
}

const decodeError = { deadLetter: 'decode-error' };

/**
 * Header names that broke the object form of headers: every own property name of Object.prototype, an empty
 * name, names that are not UTF-8, and repeats. Sent byte for byte (an ordered list, see core/headers.ts).
 */
export const hostileHeaderNames: readonly Buffer[] = [
  ...Object.getOwnPropertyNames(Object.prototype).map((name) => Buffer.from(name)),
  Buffer.alloc(0),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xc3]),
  Buffer.from('constructor'),
  Buffer.from('__proto__'),
  Buffer.from('toString'),
];

const hostileHeaders = (index: number): RecordHeader[] => hostileHeaderNames.map((name, n) => ({ name, value: n % 3 === 0 ? null : Buffer.from(`v${index}-${n}`) }));
const thousandHeaders = (index: number): RecordHeader[] => Array.from({ length: 1_000 }, (_, n) => ({ name: Buffer.from(`t${n % 10}`), value: Buffer.from(`${index}:${n}`) }));

/** The message with `extra` headers after its own, as an ordered byte-exact list. */
function withHeaderList(message: Message, extra: RecordHeader[]): Message {
  const own = Object.entries(message.headers ?? {}).map(([name, value]) => ({ name: Buffer.from(name), value: Buffer.isBuffer(value) ? value : Buffer.from(String(value)) }));
  return { ...message, headers: headersOf([...own, ...extra]) };
}

/**
 * `oversizedStringBytes`: a string the decoder refuses; `nearLimitBytes`: a value the source topic just takes
 * but that no forward can carry with its headers (it reaches the DLT as a `forward-rejected` stub).
 */
export function badKinds(oversizedStringBytes: number, nearLimitBytes?: number): BadKind[] {
  const kinds: BadKind[] = [
    { name: 'keyless', outcome: { deadLetter: 'missing-key' }, build: (i, ids) => ({ ...validRecord('keyless', i, ids), key: null }) },
    { name: 'empty-key', outcome: { deadLetter: 'missing-key' }, build: (i, ids) => ({ ...validRecord('empty-key', i, ids), key: '' }) },
    { name: 'null-value', outcome: decodeError, build: (i) => broken('null-value', i, null) },
    { name: 'empty-value', outcome: decodeError, build: (i) => broken('empty-value', i, Buffer.alloc(0)) },
    { name: 'under-5-bytes', outcome: decodeError, build: (i) => broken('under-5-bytes', i, Buffer.from([0, 0, 0, i % 256])) },
    { name: 'wrong-magic-byte', outcome: decodeError, build: (i, ids) => broken('wrong-magic-byte', i, Buffer.concat([Buffer.from([1 + (i % 200)]), (validRecord('x', i, ids).value as Buffer).subarray(1)])) },
    { name: 'json-not-avro', outcome: decodeError, build: (i) => broken('json-not-avro', i, Buffer.from(JSON.stringify({ key: 'k', sequence: i }))) },
    { name: 'unknown-schema-id', outcome: { deadLetter: 'schema-not-found' }, build: (i) => broken('unknown-schema-id', i, framed(2_000_000_000 - i, body('k', [0]))) },
    { name: 'other-subject-id', outcome: decodeError, build: (i, ids) => broken('other-subject-id', i, framed(ids.other, body('k', [0]))) },
    { name: 'truncated', outcome: decodeError, build: (i, ids) => broken('truncated', i, (validRecord('x', i, ids).value as Buffer).subarray(0, 8)) },
    { name: 'trailing-bytes', outcome: decodeError, build: (i, ids) => broken('trailing-bytes', i, Buffer.concat([validRecord('x', i, ids).value as Buffer, Buffer.from([1, 2, 3])])) },
    { name: 'bomb-map-count', outcome: decodeError, build: (i, ids) => broken('bomb-map-count', i, framed(ids.own, body('k', [...varint(2_000_000_000), 0]))) },
    { name: 'bomb-string-length', outcome: decodeError, build: (i, ids) => broken('bomb-string-length', i, framed(ids.own, [...varint(2 ** 40), 0])) },
    { name: 'bomb-negative-block', outcome: decodeError, build: (i, ids) => broken('bomb-negative-block', i, framed(ids.own, body('k', [...varint(-2_000_000_000), ...varint(2 ** 40), 0]))) },
    { name: 'negative-string-length', outcome: decodeError, build: (i, ids) => broken('negative-string-length', i, framed(ids.own, [...varint(-5), 0])) },
    { name: 'proto-map-key', outcome: decodeError, build: (i, ids) => broken('proto-map-key', i, framed(ids.own, body('k', [...varint(1), ...avroString('__proto__'), ...avroString('polluted'), 0]))) },
    { name: 'constructor-map-key', outcome: decodeError, build: (i, ids) => broken('constructor-map-key', i, framed(ids.own, body('k', [...varint(1), ...avroString('constructor'), ...avroString('x'), 0]))) },
    {
      name: 'oversized-string',
      outcome: decodeError,
      build: (i, ids) => broken('oversized-string', i, ids.encode({ key: 'k', sequence: 1, tags: {}, note: 'x'.repeat(oversizedStringBytes) })),
    },
    { name: 'proto-header-name', outcome: 'applied', build: (i, ids) => validRecord('proto-header-name', i, ids, { ['__proto__']: 'polluted', constructor: 'x' }) },
    { name: 'duplicate-event-id-headers', outcome: 'applied', build: (i, ids) => validRecord('duplicate-event-id-headers', i, ids, { 'orderly-event-id': [`ignored-${i}`, `${keyOf('duplicate-event-id-headers', i)}#1`] }) },
    { name: 'invalid-utf8-header-value', outcome: 'applied', build: (i, ids) => validRecord('invalid-utf8-header-value', i, ids, { 'orderly-event-type': Buffer.from([0xff, 0xfe, 0xc3]) }) },
    { name: 'invalid-utf8-header-name', outcome: 'applied', build: (i, ids) => validRecord('invalid-utf8-header-name', i, ids, { [Buffer.from([0xff, 0xc3]).toString('latin1')]: 'x' }) },
    { name: 'negative-attempt-header', outcome: 'applied', build: (i, ids) => validRecord('negative-attempt-header', i, ids, { 'orderly-attempt': '-99999' }) },
    { name: 'huge-attempt-header', outcome: 'applied', build: (i, ids) => validRecord('huge-attempt-header', i, ids, { 'orderly-attempt': '99999999999999999999999' }) },
    { name: 'far-future-due-header', outcome: 'applied', build: (i, ids) => validRecord('far-future-due-header', i, ids, { 'orderly-due-at': String(Date.now() + 10 * 365 * 86_400_000), 'orderly-tier': '1' }) },
    { name: 'garbage-retry-headers', outcome: 'applied', build: (i, ids) => validRecord('garbage-retry-headers', i, ids, { 'orderly-retry-level': 'NaN', 'orderly-first-failure-at': '\u0000', 'orderly-replay-count': '-1' }) },
    { name: 'forged-origin-headers', outcome: 'applied', build: (i, ids) => validRecord('forged-origin-headers', i, ids, { 'orderly-original-offset': '0', 'orderly-original-partition': '99', 'orderly-original-topic': 'elsewhere' }) },
    { name: 'many-big-headers', outcome: 'applied', build: (i, ids) => validRecord('many-big-headers', i, ids, Object.fromEntries(Array.from({ length: 200 }, (_, n) => [`x-noise-${n}`, 'h'.repeat(500)]))) },
    { name: 'invalid-utf8-key', outcome: 'applied', build: (i, ids) => validRecord('invalid-utf8-key', i, ids, {}, Buffer.concat([Buffer.from(keyOf('invalid-utf8-key', i)), Buffer.from([0xff])])) },
    { name: 'object-prototype-header-names', outcome: 'applied', build: (i, ids) => withHeaderList(validRecord('object-prototype-header-names', i, ids), hostileHeaders(i)) },
    { name: 'thousand-headers', outcome: 'applied', build: (i, ids) => withHeaderList(validRecord('thousand-headers', i, ids), thousandHeaders(i)) },
    { name: 'malformed-hostile-header-names', outcome: decodeError, build: (i) => withHeaderList(broken('malformed-hostile-header-names', i, Buffer.from('{not avro')), hostileHeaders(i)) },
    { name: 'malformed-thousand-headers', outcome: decodeError, build: (i) => withHeaderList(broken('malformed-thousand-headers', i, Buffer.from([0, 0, 0])), thousandHeaders(i)) },
  ];
  if (nearLimitBytes !== undefined) {
    kinds.push(
      { name: 'near-limit-malformed', outcome: { deadLetter: 'forward-rejected' }, build: (i) => broken('near-limit-malformed', i, Buffer.alloc(nearLimitBytes, 0x61 + (i % 20))) },
      {
        name: 'near-limit-malformed-hostile-headers',
        outcome: { deadLetter: 'forward-rejected' },
        build: (i) => withHeaderList(broken('near-limit-malformed-hostile-headers', i, Buffer.alloc(nearLimitBytes - 400, 0x62)), hostileHeaders(i)),
      },
    );
  }
  return kinds;
}
