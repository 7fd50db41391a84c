import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { DecodeError, type DecodeReason } from '../../../schemas/decode-error.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import type { AvroCodecOptions } from '../../../schemas/avro-codec-options.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import { FakeSchemaSource, framed, varint } from './fake-schema-source.ts';

const depositV1 = {
  type: 'record',
  name: 'FundsDeposited',
  namespace: 'orderly.ledger',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'sequence', type: 'long' },
  ],
};
const depositV2 = { ...depositV1, fields: [...depositV1.fields, { name: 'channel', type: 'string', default: 'unknown' }] };
const collections = {
  type: 'record',
  name: 'Collections',
  fields: [
    { name: 'nulls', type: { type: 'array', items: 'null' } },
    { name: 'labels', type: { type: 'map', values: { type: 'record', name: 'Label', fields: [{ name: 'text', type: 'string' }] } } },
  ],
};
const linked = {
  type: 'record',
  name: 'Node',
  fields: [{ name: 'next', type: ['null', 'Node'] }],
};

const context = { topic: 'ledger', partition: 0, offset: '0' };

function codec(source: FakeSchemaSource, options: Partial<AvroCodecOptions> = {}) {
  return new AvroCodec({ source, schemaNotFoundBackoffMs: 0, ...options });
}

async function reasonOf(promise: Promise<unknown>): Promise<DecodeReason | string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof DecodeError ? error.reason : `not a DecodeError: ${String(error)}`;
  }
}

const v1Bytes = (id: number) => framed(id, avro.Type.forSchema(depositV1 as avro.Schema).toBuffer({ accountId: 'acc-1', sequence: 7 }));

describe('AvroCodec', () => {
  const source = new FakeSchemaSource()
    .add(1, depositV1, ['orderly.ledger.FundsDeposited'])
    .add(2, depositV2, ['orderly.ledger.FundsDeposited'])
    .add(3, collections, ['collections-value'])
    .add(4, linked, ['linked-value']);

  it('decodes with the writer schema when no reader schema is given', async () => {
    expect(await codec(source).decode(v1Bytes(1), context)).toEqual({ accountId: 'acc-1', sequence: 7 });
  });

  it('resolves v1 data into a v2 reader (default filled) and v2 data into a v1 reader (field dropped)', async () => {
    expect(await codec(source, { readerSchemas: [depositV2 as avro.Schema] }).decode(v1Bytes(1), context)).toEqual({ accountId: 'acc-1', sequence: 7, channel: 'unknown' });
    const v2Bytes = framed(2, avro.Type.forSchema(depositV2 as avro.Schema).toBuffer({ accountId: 'acc-2', sequence: 8, channel: 'card' }));
    const decoded = await codec(source, { readerSchemas: [depositV1 as avro.Schema] }).decode(v2Bytes, context);
    expect(decoded).toEqual({ accountId: 'acc-2', sequence: 8 });
    expect(decoded).not.toHaveProperty('channel');
  });

  it.each([
    ['empty-value', null],
    ['empty-value', Buffer.alloc(0)],
    ['too-short', Buffer.from([0, 0, 0, 1])],
    ['bad-magic-byte', Buffer.from([1, 0, 0, 0, 1, 2])],
  ] as const)('gives %s for %o', async (reason, value) => {
    expect(await reasonOf(codec(source).decode(value, context))).toBe(reason);
  });

  it('asks for an unknown id a bounded number of times, then gives schema-not-found', async () => {
    const counting = new FakeSchemaSource();
    expect(await reasonOf(codec(counting, { schemaNotFoundAttempts: 3 }).decode(framed(99, [0]), context))).toBe('schema-not-found');
    expect(counting.lookups).toBe(3);
  });

  it('turns a registry outage into a retriable SchemaRegistryError, never a DecodeError', async () => {
    const down = new FakeSchemaSource().add(1, depositV1);
    down.down = true;
    const error = await codec(down).decode(v1Bytes(1), context).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SchemaRegistryError);
    expect(error).not.toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ code: 'SCHEMA_REGISTRY', retriable: true });
    expect(down.lookups).toBe(1);
  });

  it('gives subject-mismatch for an id of another subject when expected subjects are set', async () => {
    const strict = codec(source, { expectedSubjects: ['orderly.ledger.AccountOpened'] });
    expect(await reasonOf(strict.decode(v1Bytes(1), context))).toBe('subject-mismatch');
    expect(await codec(source, { expectedSubjects: ['orderly.ledger.FundsDeposited'] }).decode(v1Bytes(1), context)).toMatchObject({ sequence: 7 });
  });

  it('gives truncated and trailing-bytes', async () => {
    const whole = v1Bytes(1);
    expect(await reasonOf(codec(source).decode(whole.subarray(0, whole.length - 1), context))).toBe('truncated');
    expect(await reasonOf(codec(source).decode(Buffer.concat([whole, Buffer.from([0])]), context))).toBe('trailing-bytes');
    // A string length far beyond the body: truncated, and nothing is allocated for it.
    expect(await reasonOf(codec(source).decode(framed(1, [...varint(1000), 65]), context))).toBe('truncated');
  });

  it('refuses a huge count of zero-byte items before avsc allocates (limit-exceeded)', async () => {
    // array<null> with a block count of one billion: five bytes of input, no bytes per item.
    const hostile = framed(3, [...varint(1_000_000_000), 0, 0]);
    expect(await reasonOf(codec(source).decode(hostile, context))).toBe('limit-exceeded');
    // Many small blocks add up too: the count is over all blocks, and over the whole value.
    const blocks = Array.from({ length: 30 }, () => varint(5)).flat();
    expect(await reasonOf(codec(source, { limits: { maxCollectionItems: 100 } }).decode(framed(3, [...blocks, 0, 0]), context))).toBe('limit-exceeded');
    expect(await reasonOf(codec(source, { limits: { maxTotalItems: 100 } }).decode(framed(3, [...blocks, 0, 0]), context))).toBe('limit-exceeded');
    // Within the limit the same shape decodes.
    expect(await codec(source).decode(framed(3, [...blocks, 0, 0]), context)).toMatchObject({ nulls: Array(150).fill(null) });
  });

  it('refuses strings beyond maxStringBytes and counts with a 64-bit varint', async () => {
    const body = avro.Type.forSchema(depositV1 as avro.Schema).toBuffer({ accountId: 'x'.repeat(200), sequence: 1 });
    expect(await reasonOf(codec(source, { limits: { maxStringBytes: 100 } }).decode(framed(1, body), context))).toBe('limit-exceeded');
    const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    expect(await reasonOf(codec(source).decode(framed(3, [...huge, 0]), context))).toBe('limit-exceeded');
  });

  it('refuses a __proto__ map key and leaves every prototype alone', async () => {
    const key = Buffer.from('__proto__');
    const entry = [...varint(key.length), ...key, ...varint(2), 0x7b, 0x7d];
    const hostile = framed(3, [0, ...varint(1), ...entry, 0]);
    expect(await reasonOf(codec(source).decode(hostile, context))).toBe('forbidden-key');
    expect(({} as Record<string, unknown>).text).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    // A custom list replaces the default one.
    const constructorKey = Buffer.from('constructor');
    const other = framed(3, [0, ...varint(1), ...varint(constructorKey.length), ...constructorKey, 0, 0]);
    expect(await reasonOf(codec(source).decode(other, context))).toBe('forbidden-key');
    expect(await codec(source, { limits: { forbiddenMapKeys: ['__proto__'] } }).decode(other, context)).toMatchObject({ labels: { constructor: { text: '' } } });
  });

  it('bounds the nesting of a recursive schema (limit-exceeded), and reads out-of-range union indexes as invalid-data', async () => {
    const deep = framed(4, [...Array(100).fill(2), 0]);
    expect(await reasonOf(codec(source, { limits: { maxDepth: 20 } }).decode(deep, context))).toBe('limit-exceeded');
    expect(await reasonOf(codec(source).decode(framed(4, [...varint(5)]), context))).toBe('invalid-data');
  });

  it('throws only DecodeError for random bytes (500 inputs, fixed seed)', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const decoder = codec(source, { schemaNotFoundAttempts: 1 });
    for (let index = 0; index < 500; index += 1) {
      const body = Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      const reason = await reasonOf(decoder.decode(framed(1 + (index % 4), body), context));
      expect(reason).not.toMatch(/^not a DecodeError/);
    }
  });

  it('reports every bad option at once', () => {
    expect(() => new AvroCodec({ source: {} as never, schemaNotFoundAttempts: 0, limits: { maxDepth: -1 } })).toThrow(ConfigurationError);
    try {
      new AvroCodec({ source: {} as never, schemaNotFoundAttempts: 0, limits: { maxDepth: -1 } });
    } catch (error) {
      expect((error as ConfigurationError).problems).toHaveLength(3);
    }
  });
});
