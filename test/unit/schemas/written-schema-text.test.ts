/**
 * The schema text sent to the registry is the schema as written, not avsc's re-serialisation: avsc without
 * logical-type hooks drops `logicalType`, `precision`, `scale` and custom attributes, which the registry keeps.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroEncoder } from '../../../schemas/avro-encoder.ts';
import { avroType, hasWrittenSchemaText, parseSchemaText, readSchemaFile, writtenSchemaText } from '../../../schemas/avro-type.ts';
import { readSchemaDirectory } from '../../../schemas/schema-directory.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { logicalTypeChanges } from '../../../schemas/logical-type-changes.ts';

const text = `{
  "type": "record", "name": "Paid", "namespace": "orderly.test", "x-owner": "payments",
  "fields": [
    { "name": "at", "type": { "type": "long", "logicalType": "timestamp-millis" } },
    { "name": "amount", "type": { "type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2 } },
    { "name": "id", "type": { "type": "string", "logicalType": "uuid" } },
    { "name": "day", "type": { "type": "int", "logicalType": "date" }, "default": 0 },
    { "name": "fee", "type": { "type": "fixed", "name": "Fee", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 4 } }
  ]
}`;
const compact = JSON.stringify(JSON.parse(text));

/** A registry that records the schema text of every register / lookup request. */
function recordingRegistry(sent: string[], answer: 'found' | 'missing' = 'found'): SchemaRegistryClient {
  return new SchemaRegistryClient({
    url: 'http://registry.test',
    fetch: (async (_url: string, init: RequestInit) => {
      sent.push((JSON.parse(String(init.body)) as { schema: string }).schema);
      if (answer === 'missing') return new Response(JSON.stringify({ error_code: 40403, message: 'Schema not found' }), { status: 404 });
      return new Response(JSON.stringify({ id: 7 }), { status: 200 });
    }) as typeof fetch,
  });
}

describe('the schema text sent to the registry', () => {
  it('avsc alone loses the logical types (why the written text is kept)', () => {
    const exported = JSON.stringify(avro.Type.forSchema(JSON.parse(text) as avro.Schema).schema({ exportAttrs: true }));
    expect(exported).not.toContain('logicalType');
    expect(exported).not.toContain('precision');
  });

  it('is the compact text as written for text, schema objects, files and schema folders', () => {
    expect(writtenSchemaText(avroType(text))).toBe(compact);
    expect(writtenSchemaText(avroType(JSON.parse(text) as avro.Schema))).toBe(compact);
    expect(writtenSchemaText(parseSchemaText(text))).toBe(compact);
    const directory = mkdtempSync(join(tmpdir(), 'orderly-written-'));
    writeFileSync(join(directory, 'Paid.avsc'), text);
    expect(writtenSchemaText(readSchemaFile(join(directory, 'Paid.avsc')))).toBe(compact);
    expect(readSchemaDirectory(directory, { strategy: 'record' })[0]!.text).toBe(compact);
  });

  it('the encoder looks up and registers the written text, logical types, precision, scale and custom attributes kept', async () => {
    const sent: string[] = [];
    const type = avroType(JSON.parse(text) as avro.Schema);
    expect(await new AvroEncoder({ registry: recordingRegistry(sent) }).schemaId('ledger-value', type)).toBe(7);
    expect(await new AvroEncoder({ registry: recordingRegistry(sent), autoRegister: true }).schemaId('ledger-value', type)).toBe(7);
    expect(sent).toEqual([compact, compact]);
  });

  it('a Type the caller built falls back to avsc export, and a lookup miss says how to keep the logical types', async () => {
    const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
    expect(hasWrittenSchemaText(type)).toBe(false);
    expect(hasWrittenSchemaText(avroType(text))).toBe(true);
    const sent: string[] = [];
    const miss = await new AvroEncoder({ registry: recordingRegistry(sent, 'missing') }).schemaId('ledger-value', type).catch((error: unknown) => error);
    expect(sent).toEqual([JSON.stringify(type.schema({ exportAttrs: true }))]);
    expect((miss as Error).message).toMatch(/given as an avsc Type.*drops logicalType.*give the schema JSON/);
    const written = await new AvroEncoder({ registry: recordingRegistry([], 'missing') }).schemaId('ledger-value', avroType(text)).catch((error: unknown) => error);
    expect((written as Error).message).not.toMatch(/avsc Type/);
  });
});

describe('logicalTypeChanges (listed by `orderly schemas diff`)', () => {
  const v1 = JSON.parse(text) as { fields: Record<string, unknown>[] } & Record<string, unknown>;
  const withField = (name: string, type: unknown) => avroType({ ...v1, fields: v1.fields.map((field) => (field.name === name ? { ...field, type } : field)) } as avro.Schema);

  it('names a changed scale, a changed timestamp unit, a logical type added or dropped; nothing when unchanged', () => {
    expect(logicalTypeChanges(avroType(text), avroType(JSON.parse(text) as avro.Schema))).toEqual([]);
    expect(logicalTypeChanges(avroType(text), withField('amount', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 3 }))).toEqual(['amount: decimal(12, 2) -> decimal(12, 3)']);
    expect(logicalTypeChanges(avroType(text), withField('at', { type: 'long', logicalType: 'timestamp-micros' }))).toEqual(['at: timestamp-millis -> timestamp-micros']);
    expect(logicalTypeChanges(avroType(text), withField('id', 'string'))).toEqual(['id: uuid -> none']);
    expect(logicalTypeChanges(avroType(text), withField('at', ['null', { type: 'long', logicalType: 'timestamp-millis' }]))).toEqual([]);
    expect(logicalTypeChanges(avroType(text), withField('fee', { type: 'fixed', name: 'Fee', size: 8, logicalType: 'decimal', precision: 18, scale: 2 }))).toEqual(['fee: decimal(18, 4) -> decimal(18, 2)']);
  });

  it('follows named types referenced by name and nested records', () => {
    const nested = (scale: number) =>
      avroType({
        type: 'record', name: 'Order', namespace: 'orderly.test',
        fields: [
          { name: 'total', type: { type: 'record', name: 'Money', fields: [{ name: 'value', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale } }] } },
          { name: 'lines', type: { type: 'array', items: 'Money' } },
        ],
      } as avro.Schema);
    expect(logicalTypeChanges(nested(2), nested(4))).toEqual(['total.value: decimal(10, 2) -> decimal(10, 4)', 'lines[].value: decimal(10, 2) -> decimal(10, 4)']);
  });
});
