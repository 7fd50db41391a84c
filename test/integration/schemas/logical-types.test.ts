/**
 * Logical types reach the registry as the user wrote them. avsc without logical-type hooks parses
 * `{"type":"long","logicalType":"timestamp-millis"}` to a plain long, and its re-serialisation drops the
 * attribute (and a decimal's precision and scale): a producer that sent that text could not find a schema
 * registered ahead by `orderly schemas register` (the registry keeps logical types in its canonical form), and
 * with autoRegister on it registered a different schema than the one written. On the real Apicurio.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutboxWriter, createOutboxTables } from '../../../outbox/index.ts';
import { outboxTableNames } from '../../../outbox/outbox-table.ts';
import { EventProducer } from '../../../producers/index.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { decimalFromBytes, decimalToBytes } from '../../../schemas/decimal-bytes.ts';
import type { Schema } from '../../../schemas/avro-type.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { createTestTopic, testKafka, testStack } from '../../support/test-stack.ts';
import { readAll } from '../../support/consumer-harness.ts';
import { dropOutboxTable, uniqueOutboxTable } from '../../support/outbox-harness.ts';
import { deleteSubject, registryUrl, testRegistry } from './registry-helpers.ts';

const run = promisify(execFile);

/** As a user writes it: namespace apart, attributes in the user's order, a doc and a custom property. */
const paymentText = `{
  "type": "record",
  "name": "PaymentCaptured",
  "namespace": "orderly.test.logical",
  "doc": "A captured payment.",
  "fields": [
    { "name": "paymentId", "type": { "type": "string", "logicalType": "uuid" } },
    { "name": "capturedAt", "type": { "type": "long", "logicalType": "timestamp-millis" } },
    { "name": "amount", "type": { "type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2 } },
    { "name": "valueDate", "type": { "type": "int", "logicalType": "date" }, "doc": "days since 1970-01-01" }
  ]
}
`;

const capturedAt = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const payment = {
  paymentId: '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f',
  capturedAt,
  amount: decimalToBytes('1234.56', 2),
  valueDate: Math.floor(capturedAt / 86_400_000),
};

async function registerWithCli(topic: string): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'orderly-logical-'));
  writeFileSync(join(directory, 'PaymentCaptured.avsc'), paymentText);
  const { stdout } = await run(process.execPath, ['cli/bin.ts', 'schemas', 'register', '--dir', directory, '--registry', registryUrl(), '--topic', topic], { cwd: projectRoot });
  return stdout;
}

async function readBack(topic: string): Promise<unknown> {
  const [message] = await readAll(topic, 1, 60_000);
  return new AvroCodec({ source: testRegistry(), expectedSubjects: [`${topic}-value`] }).decode(message!.value, { topic, partition: 0, offset: message!.offset });
}

describe('logical types and the registry', () => {
  it('a producer without autoRegister finds the schema `orderly schemas register` registered, and the record decodes', async () => {
    const topic = await createTestTopic({ prefix: 'logical-ahead' });
    onTestFinished(() => deleteSubject(`${topic}-value`));
    expect(await registerWithCli(topic)).toMatch(new RegExp(`registered\\s+PaymentCaptured\\.avsc -> ${topic}-value id \\d+`));

    const events = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: false, topic });
    try {
      // As an application holds it: the parsed JSON of the same file.
      await events.publish({ key: payment.paymentId, schema: JSON.parse(paymentText) as Schema, value: payment });
    } finally {
      await events.close();
    }
    const value = (await readBack(topic)) as typeof payment;
    expect(value).toEqual(payment);
    expect(decimalFromBytes(value.amount, 2)).toBe('1234.56');
    expect((await testRegistry().latest(`${topic}-value`))?.version).toBe(1); // nothing else was registered
  });

  it('`orderly schemas check` finds the file registered; `schemas diff` lists a changed scale beside its verdict', async () => {
    const topic = await createTestTopic({ prefix: 'logical-check' });
    onTestFinished(() => deleteSubject(`${topic}-value`));
    const directory = await registerWithCli(topic).then(() => mkdtempSync(join(tmpdir(), 'orderly-logical-')));
    writeFileSync(join(directory, 'PaymentCaptured.avsc'), paymentText);
    const check = await run(process.execPath, ['cli/bin.ts', 'schemas', 'check', '--dir', directory, '--registry', registryUrl(), '--topic', topic], { cwd: projectRoot });
    expect(check.stdout).toMatch(/ok\s+PaymentCaptured\.avsc -> .*already registered/);

    writeFileSync(join(directory, 'scale3.avsc'), paymentText.replace('"scale": 2', '"scale": 3'));
    const diff = await run(process.execPath, ['cli/bin.ts', 'schemas', 'diff', join(directory, 'PaymentCaptured.avsc'), join(directory, 'scale3.avsc')], { cwd: projectRoot });
    expect(diff.stdout).toContain('compatibility: FULL');
    expect(diff.stdout).toMatch(/logical types changed[^\n]*\n\s+amount: decimal\(12, 2\) -> decimal\(12, 3\)/);
  });

  it('an OutboxWriter without autoRegister finds the schema `orderly schemas register` registered', async () => {
    const topic = await createTestTopic({ prefix: 'logical-outbox' });
    onTestFinished(() => deleteSubject(`${topic}-value`));
    await registerWithCli(topic);
    const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 2 });
    onTestFinished(() => pool.end());
    const table = uniqueOutboxTable('outbox_logical');
    const client = await pool.connect();
    try {
      await createOutboxTables(client, table);
      onTestFinished(() => dropOutboxTable(pool, table));
      const writer = new OutboxWriter({ registry: testRegistry(), table, autoRegister: false });
      await client.query('begin');
      await writer.add(client, { topic, key: payment.paymentId, schema: JSON.parse(paymentText) as Schema, event: payment });
      await client.query('commit');
      const { rows } = await client.query<{ payload: Buffer }>(`select payload from ${outboxTableNames(table).table}`);
      expect(rows).toHaveLength(1);
      const codec = new AvroCodec({ source: testRegistry(), expectedSubjects: [`${topic}-value`] });
      expect(await codec.decode(rows[0]!.payload, { topic, partition: 0, offset: '0' })).toEqual(payment);
    } finally {
      client.release();
    }
  });

  it('with autoRegister on, the registry holds the schema as written: logical types, precision, scale, docs', async () => {
    const topic = await createTestTopic({ prefix: 'logical-auto' });
    onTestFinished(() => deleteSubject(`${topic}-value`));
    const events = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true, topic });
    try {
      await events.publish({ key: payment.paymentId, schema: paymentText, value: payment });
    } finally {
      await events.close();
    }
    const registered = await testRegistry().latest(`${topic}-value`);
    expect(JSON.parse(registered!.schema)).toEqual(JSON.parse(paymentText));
    expect(await readBack(topic)).toEqual(payment);

    // The same file registered by the CLI afterwards is the same schema: same id, no new version.
    expect(await registerWithCli(topic)).toContain(`id ${registered!.id}`);
    expect((await testRegistry().latest(`${topic}-value`))?.version).toBe(1);
  });
});
