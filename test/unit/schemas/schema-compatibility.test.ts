import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { compareSchemas } from '../../../schemas/schema-compatibility.ts';

const base = { type: 'record', name: 'Opened', namespace: 'orderly.test', fields: [{ name: 'accountId', type: 'string' }, { name: 'owner', type: 'string' }] };
const type = (schema: object) => avro.Type.forSchema(schema as avro.Schema);
const withFields = (...fields: object[]) => type({ ...base, fields: [...base.fields, ...fields] });

describe('compareSchemas (offline diff)', () => {
  it('a field added with a default is FULL', () => {
    expect(compareSchemas(type(base), withFields({ name: 'currency', type: 'string', default: 'EUR' }))).toEqual({ backward: [], forward: [], level: 'FULL' });
  });

  it('a field added without a default breaks BACKWARD and names the field; FORWARD holds', () => {
    const report = compareSchemas(type(base), withFields({ name: 'openedAt', type: 'long' }));
    expect(report.level).toBe('FORWARD');
    expect(report.backward).toHaveLength(1);
    expect(report.backward[0]).toMatch(/^openedAt: .*no default/);
  });

  it('a field removed that had no default breaks FORWARD; BACKWARD holds', () => {
    const report = compareSchemas(type(base), type({ ...base, fields: [base.fields[0]] }));
    expect(report.level).toBe('BACKWARD');
    expect(report.forward[0]).toMatch(/^owner: /);
  });

  it('a type change string -> long breaks both ways and names the field; int -> long is promotion (BACKWARD)', () => {
    const changed = type({ ...base, fields: [base.fields[0], { name: 'owner', type: 'long' }] });
    const report = compareSchemas(type(base), changed);
    expect(report.level).toBe('NONE');
    expect(report.backward[0]).toMatch(/^owner: written as string, cannot be read as long/);
    const counter = (fieldType: string) => type({ type: 'record', name: 'C', fields: [{ name: 'count', type: fieldType }] });
    expect(compareSchemas(counter('int'), counter('long')).level).toBe('BACKWARD');
  });

  it('descends into nested records and names the path', () => {
    const outer = (inner: object) => type({ type: 'record', name: 'Outer', fields: [{ name: 'address', type: inner }] });
    const innerV1 = { type: 'record', name: 'Address', fields: [{ name: 'city', type: 'string' }] };
    const innerV2 = { ...innerV1, fields: [...innerV1.fields, { name: 'zip', type: 'string' }] };
    expect(compareSchemas(outer(innerV1), outer(innerV2)).backward).toEqual([expect.stringMatching(/^address\.zip: /)]);
  });

  it('a renamed record breaks unless the new one carries the old name as an alias', () => {
    expect(compareSchemas(type(base), type({ ...base, name: 'Created' })).level).toBe('NONE');
    expect(compareSchemas(type(base), type({ ...base, name: 'Created', aliases: ['orderly.test.Opened'] })).backward).toEqual([]);
  });
});
