/**
 * One subject-name strategy for producer, codec and CLI: the folder reader names subjects as the producer
 * does (default `<topic>-value`), refuses what the strategy cannot name, and a missing schema's error names
 * the strategy and the command that registers it under the right subject.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { defaultEventProducerOptions } from '../../../producers/options.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { readSchemaDirectory } from '../../../schemas/schema-directory.ts';
import { readSchemaFile } from '../../../schemas/avro-type.ts';
import { defaultSubjectNameStrategy } from '../../../schemas/subject-name-strategy.ts';
import { FakeKafka, fakeRegistry } from '../producers/fake-kafka.ts';
import { FakeSchemaSource, framed } from './fake-schema-source.ts';

function folder(files: Record<string, object>): string {
  const directory = mkdtempSync(join(tmpdir(), 'subject-naming-'));
  for (const [file, schema] of Object.entries(files)) writeFileSync(join(directory, file), JSON.stringify(schema));
  return directory;
}

const record = (name: string) => ({ type: 'record', name, namespace: 'orderly.ledger', fields: [{ name: 'accountId', type: 'string' }] });

function problemsOf(action: () => unknown): readonly string[] {
  try {
    action();
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
}

describe('subject naming', () => {
  it("is the producer's default everywhere: <topic>-value", () => {
    expect(defaultEventProducerOptions.subjectNameStrategy).toBe(defaultSubjectNameStrategy);
    expect(defaultSubjectNameStrategy).toBe('topic');
    const directory = folder({ 'FundsDeposited.avsc': record('FundsDeposited'), 'FundsDeposited.v2.avsc': record('FundsDeposited') });
    expect(readSchemaDirectory(directory, { strategy: 'topic', topic: 'ledger' }).map((schema) => `${schema.subject}@${schema.version}`)).toEqual(['ledger-value@1', 'ledger-value@2']);
    expect(readSchemaDirectory(directory, { strategy: 'topic-record', topic: 'ledger' })[0]?.subject).toBe('ledger-orderly.ledger.FundsDeposited');
  });

  it('asks for the topic when the strategy needs one, and refuses two record types under one subject', () => {
    const one = folder({ 'A.avsc': record('A') });
    expect(problemsOf(() => readSchemaDirectory(one, { strategy: 'topic' })).join()).toMatch(/--topic/);
    const two = folder({ 'A.avsc': record('A'), 'B.avsc': record('B') });
    expect(problemsOf(() => readSchemaDirectory(two, { strategy: 'topic', topic: 'ledger' })).join()).toMatch(/2 record types under subject ledger-value.*topic-record/);
    expect(readSchemaDirectory(two, { strategy: 'record' }).map((schema) => schema.subject)).toEqual(['orderly.ledger.A', 'orderly.ledger.B']);
  });

  it('refuses a folder without .avsc files', () => {
    expect(problemsOf(() => readSchemaDirectory(folder({}), { strategy: 'record' })).join()).toMatch(/no \.avsc file/);
  });

  it('names the path of a missing schema file or a broken subjects.json, without a stack trace', () => {
    expect(problemsOf(() => readSchemaFile('/nonexistent/A.avsc'))).toEqual(['/nonexistent/A.avsc: cannot read the schema file (ENOENT)']);
    const directory = folder({ 'A.avsc': record('A') });
    writeFileSync(join(directory, 'subjects.json'), '{ not json');
    expect(problemsOf(() => readSchemaDirectory(directory, { strategy: 'record' })).join()).toContain(`${join(directory, 'subjects.json')}: not valid JSON`);
  });

  it("names the strategy and a command that helps when the producer's subject lacks the schema", async () => {
    const producer = new EventProducer({ kafka: new FakeKafka().asKafka(), registry: fakeRegistry([], true), topic: 'ledger' });
    const error = await producer.publish({ key: 'a', schema: JSON.stringify(record('FundsDeposited')), value: { accountId: 'a' } }).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/subject ledger-value \(subject-name strategy 'topic', topic ledger\)/);
    expect((error as Error).message).toContain('orderly schemas register --subject-name-strategy topic --topic ledger');
  });

  it("lets the consumer's codec check a writer id against the strategy's subject for the record's topic", async () => {
    const source = new FakeSchemaSource().add(1, record('FundsDeposited'), ['orderly.ledger.FundsDeposited']);
    const codec = new AvroCodec({ source, subjectNameStrategy: 'topic' });
    const error = await codec.decode(framed(1, [2, 0x61]), { topic: 'ledger', partition: 0, offset: '0' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ reason: 'subject-mismatch' });
    expect((error as Error).message).toMatch(/not to ledger-value \(subject-name strategy 'topic'\)/);
    const byRecord = new AvroCodec({ source, subjectNameStrategy: 'record' });
    expect(await byRecord.decode(framed(1, [2, 0x61]), { topic: 'ledger', partition: 0, offset: '0' })).toEqual({ accountId: 'a' });
  });
});
