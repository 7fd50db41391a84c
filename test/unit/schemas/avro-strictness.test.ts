/**
 * Decoding as strict as Java's BinaryDecoder, a schema that cannot reach a prototype, and a decoded size
 * bounded per byte of input.
 */
import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { AvroEncoder } from '../../../schemas/avro-encoder.ts';
import { DecodeError, type DecodeReason } from '../../../schemas/decode-error.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import { fakeRegistry } from '../producers/fake-kafka.ts';
import { FakeSchemaSource, framed, varint } from './fake-schema-source.ts';

const context = { topic: 'ledger', partition: 0, offset: '0' };
const admin = { type: 'record', name: 'Admin', fields: [{ name: 'isAdmin', type: 'boolean' }] };
const hostile = { type: 'record', name: 'Hostile', fields: [{ name: '__proto__', type: admin }] };
const flags = { type: 'record', name: 'Flags', fields: [{ name: 'count', type: 'int' }, { name: 'on', type: 'boolean' }] };
const empty = { type: 'record', name: 'Empty', fields: [] };
const empties = { type: 'record', name: 'Empties', fields: [{ name: 'items', type: { type: 'array', items: { type: 'array', items: empty } } }] };

async function outcome(promise: Promise<unknown>): Promise<{ reason?: DecodeReason | string; value?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { reason: error instanceof DecodeError ? error.reason : `not a DecodeError: ${String(error)}` };
  }
}

describe('Avro decoding strictness', () => {
  const source = new FakeSchemaSource().add(1, hostile).add(2, flags).add(3, empties);
  const codec = new AvroCodec({ source, schemaNotFoundBackoffMs: 0 });

  it('refuses a writer schema with a field named __proto__ (forbidden-field), so data never sets a prototype', async () => {
    const result = await outcome(codec.decode(framed(1, [1]), context));
    expect(result.value && (result.value as { isAdmin?: boolean }).isAdmin).toBeUndefined();
    expect(result.reason).toBe('forbidden-field');
    // Refused once, not asked again per record.
    const lookups = source.lookups;
    expect((await outcome(codec.decode(framed(1, [1]), context))).reason).toBe('forbidden-field');
    expect(source.lookups).toBe(lookups);
  });

  it('refuses such a field in reader schemas and before registration', async () => {
    expect(() => new AvroCodec({ source, readerSchemas: [hostile as avro.Schema] })).toThrow(ConfigurationError);
    const encoder = new AvroEncoder({ registry: fakeRegistry(), autoRegister: true });
    await expect(encoder.schemaId('hostile-value', avro.Type.forSchema(hostile as avro.Schema))).rejects.toThrow(/__proto__/);
  });

  it('refuses an int beyond 32 bits (2^40) and a boolean byte other than 0 or 1, as Java does', async () => {
    expect((await outcome(codec.decode(framed(2, [...varint(2 ** 40), 0]), context))).reason).toBe('invalid-data');
    expect((await outcome(codec.decode(framed(2, [...varint(2 ** 31), 0]), context))).reason).toBe('invalid-data');
    expect((await outcome(codec.decode(framed(2, [...varint(2 ** 31 - 1), 1]), context))).value).toEqual({ count: 2 ** 31 - 1, on: true });
    expect((await outcome(codec.decode(framed(2, [...varint(-(2 ** 31)), 0]), context))).value).toEqual({ count: -(2 ** 31), on: false });
    expect((await outcome(codec.decode(framed(2, [0, 7]), context))).reason).toBe('invalid-data');
  });

  it('bounds decoded output per byte of input: 45 bytes cannot expand into a million empty records', async () => {
    // Ten arrays of 99,999 empty records: a million items from 42 bytes, within every count limit of old.
    const body: number[] = [...varint(10)];
    for (let array = 0; array < 10; array += 1) body.push(...varint(99_999), 0);
    body.push(0);
    expect(body.length).toBeLessThanOrEqual(45);
    expect((await outcome(codec.decode(framed(3, body), context))).reason).toBe('limit-exceeded');
    // Small arrays still decode.
    const small = await outcome(codec.decode(framed(3, [...varint(2), ...varint(100), 0, ...varint(100), 0, 0]), context));
    expect((small.value as { items: unknown[][] }).items.map((items) => items.length)).toEqual([100, 100]);
  });
});
