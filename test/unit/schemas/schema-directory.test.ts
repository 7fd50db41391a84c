import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSchemaDirectory } from '../../../schemas/schema-directory.ts';
import { compareSchemas } from '../../../schemas/schema-compatibility.ts';
import { subjectName } from '../../../schemas/subject-name-strategy.ts';
import { ConfigurationError } from '../../../core/errors.ts';

describe('subject name strategies', () => {
  it('names subjects like Confluent: topic, record, topic-record', () => {
    expect(subjectName('topic', 'ledger', 'orderly.ledger.FundsDeposited')).toBe('ledger-value');
    expect(subjectName('record', 'ledger', 'orderly.ledger.FundsDeposited')).toBe('orderly.ledger.FundsDeposited');
    expect(subjectName('topic-record', 'ledger', 'orderly.ledger.FundsDeposited')).toBe('ledger-orderly.ledger.FundsDeposited');
  });
});

describe('the example schemas in schemas/avro', () => {
  const schemas = readSchemaDirectory('schemas/avro', { strategy: 'record' });

  it('are the four ledger events plus a v2, each with accountId and a long sequence, mapped by record name', () => {
    expect(schemas.map((schema) => `${schema.subject}@${schema.version}`)).toEqual([
      'orderly.ledger.AccountClosed@1',
      'orderly.ledger.AccountOpened@1',
      'orderly.ledger.FundsDeposited@1',
      'orderly.ledger.FundsDeposited@2',
      'orderly.ledger.FundsWithdrawn@1',
    ]);
    for (const { type } of schemas) {
      const fields = (type.schema() as { fields: { name: string; type: unknown }[] }).fields;
      expect(fields.find((field) => field.name === 'accountId')?.type).toBe('string');
      expect(fields.find((field) => field.name === 'sequence')?.type).toBe('long');
    }
  });

  it('FundsDeposited v2 evolves v1 compatibly both ways (FULL)', () => {
    const [v1, v2] = schemas.filter((schema) => schema.subject === 'orderly.ledger.FundsDeposited');
    expect(compareSchemas(v1!.type, v2!.type).level).toBe('FULL');
  });

  it('takes subjects from subjects.json when present, and reports every unreadable file at once', () => {
    const directory = mkdtempSync(join(tmpdir(), 'schemas-'));
    writeFileSync(join(directory, 'A.avsc'), JSON.stringify({ type: 'record', name: 'A', fields: [] }));
    writeFileSync(join(directory, 'subjects.json'), JSON.stringify({ 'A.avsc': 'ledger-value' }));
    expect(readSchemaDirectory(directory, { strategy: 'record' })[0]?.subject).toBe('ledger-value');
    writeFileSync(join(directory, 'B.avsc'), '{ not json');
    writeFileSync(join(directory, 'C.avsc'), JSON.stringify({ type: 'record', name: 'C', fields: [{ name: 'x', type: 'nope' }] }));
    expect(() => readSchemaDirectory(directory, { strategy: 'record' })).toThrow(ConfigurationError);
    try {
      readSchemaDirectory(directory, { strategy: 'record' });
    } catch (error) {
      expect((error as ConfigurationError).problems).toHaveLength(2);
    }
  });
});
