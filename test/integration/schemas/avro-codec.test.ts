/**
 * The codec against the real registry of the stack: round trip, evolution both ways, and each hardened
 * decode case giving its reason code.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { AvroEncoder } from '../../../schemas/avro-encoder.ts';
import { avroType } from '../../../schemas/avro-type.ts';
import { DecodeError, type DecodeReason } from '../../../schemas/decode-error.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import { framed, varint } from '../../unit/schemas/fake-schema-source.ts';
import { testRegistry, testSubject } from './registry-helpers.ts';

const context = { topic: 'ledger', partition: 0, offset: '0' };
const depositV1 = readFileSync('schemas/avro/FundsDeposited.avsc', 'utf8');
const depositV2 = readFileSync('schemas/avro/FundsDeposited.v2.avsc', 'utf8');
const hostileShape = JSON.stringify({
  type: 'record',
  name: 'Shapes',
  namespace: 'orderly.test',
  fields: [
    { name: 'nulls', type: { type: 'array', items: 'null' } },
    { name: 'tags', type: { type: 'map', values: 'string' } },
  ],
});

async function reasonOf(promise: Promise<unknown>): Promise<DecodeReason | string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof DecodeError ? error.reason : `not a DecodeError: ${String(error)}`;
  }
}

describe('AvroCodec on the real registry', () => {
  it('round trip: encoded with the registered id, decoded by a fresh codec to the same object', async () => {
    const subject = testSubject('roundtrip');
    const encoder = new AvroEncoder({ registry: testRegistry(), autoRegister: true });
    const value = { accountId: 'acc-42', sequence: 2 ** 40, amountMinor: 12_345, currency: 'EUR' };
    const bytes = await encoder.encode(subject, avroType(depositV1), value);
    const id = bytes.readInt32BE(1);
    expect(id).toBe(await testRegistry().lookup(subject, depositV1));
    expect(await new AvroCodec({ source: testRegistry() }).decode(bytes, context)).toEqual(value);
  });

  it('reads v1 data as v2 (default filled) and v2 data as v1 (field dropped)', async () => {
    const subject = testSubject('evolution');
    const encoder = new AvroEncoder({ registry: testRegistry(), autoRegister: true });
    const v1Bytes = await encoder.encode(subject, avroType(depositV1), { accountId: 'a', sequence: 1, amountMinor: 5, currency: 'EUR' });
    const v2Bytes = await encoder.encode(subject, avroType(depositV2), { accountId: 'a', sequence: 2, amountMinor: 6, currency: 'EUR', channel: 'card' });
    expect(v2Bytes.readInt32BE(1)).not.toBe(v1Bytes.readInt32BE(1));
    const asV2 = new AvroCodec({ source: testRegistry(), readerSchemas: [depositV2], expectedSubjects: [subject] });
    const asV1 = new AvroCodec({ source: testRegistry(), readerSchemas: [depositV1], expectedSubjects: [subject] });
    expect(await asV2.decode(v1Bytes, context)).toEqual({ accountId: 'a', sequence: 1, amountMinor: 5, currency: 'EUR', channel: 'unknown' });
    expect(await asV1.decode(v2Bytes, context)).toEqual({ accountId: 'a', sequence: 2, amountMinor: 6, currency: 'EUR' });
  });

  it('gives each hardened case its reason code', async () => {
    const subject = testSubject('hostile');
    const id = await testRegistry().register(subject, hostileShape);
    const codec = new AvroCodec({ source: testRegistry(), expectedSubjects: [subject], schemaNotFoundAttempts: 2, schemaNotFoundBackoffMs: 50 });
    const valid = framed(id, avroType(hostileShape).toBuffer({ nulls: [null], tags: { a: 'b' } }));
    expect(await codec.decode(valid, context)).toEqual({ nulls: [null], tags: { a: 'b' } });

    const protoKey = Buffer.from('__proto__');
    const cases: [DecodeReason, Buffer][] = [
      ['too-short', Buffer.from([0, 0, 0])],
      ['bad-magic-byte', Buffer.concat([Buffer.from([9]), valid.subarray(1)])],
      ['schema-not-found', framed(2_000_000_000, [0, 0])],
      ['truncated', valid.subarray(0, valid.length - 2)],
      ['trailing-bytes', Buffer.concat([valid, Buffer.from([1, 2, 3])])],
      ['limit-exceeded', framed(id, [...varint(2_000_000_000), 0, 0])],
      ['forbidden-key', framed(id, [0, ...varint(1), ...varint(protoKey.length), ...protoKey, ...varint(0), 0])],
    ];
    for (const [reason, bytes] of cases) expect(await reasonOf(codec.decode(bytes, context)), reason).toBe(reason);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);

    // An id registered under another subject.
    const other = testSubject('other');
    const otherId = await testRegistry().register(other, depositV1);
    const otherBytes = await new AvroEncoder({ registry: testRegistry() }).encode(other, avroType(depositV1), { accountId: 'a', sequence: 1, amountMinor: 1, currency: 'EUR' });
    expect(otherBytes.readInt32BE(1)).toBe(otherId);
    expect(await reasonOf(codec.decode(otherBytes, context))).toBe('subject-mismatch');
  });

  it('turns a registry that answers 503, or is down, into a retriable SCHEMA_REGISTRY error, not a decode error', async () => {
    const server = createServer((_request, response) => response.writeHead(503).end('{"error_code":50003,"message":"down for maintenance"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const failing = await new AvroCodec({ source: new SchemaRegistryClient({ url }) }).decode(framed(1, [0]), context).catch((caught: unknown) => caught);
    expect(failing).toBeInstanceOf(SchemaRegistryError);
    expect(failing).toMatchObject({ code: 'SCHEMA_REGISTRY', retriable: true, status: 503 });
    await new Promise((resolve) => server.close(resolve));
    const refused = await new AvroCodec({ source: new SchemaRegistryClient({ url }) }).decode(framed(1, [0]), context).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(SchemaRegistryError);
    expect(refused).not.toBeInstanceOf(DecodeError);
    expect(refused).toMatchObject({ code: 'SCHEMA_REGISTRY', retriable: true, status: undefined });
  });
});
