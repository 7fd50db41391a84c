/**
 * The registry's own behaviour, through @kafkajs/confluent-schema-registry, against the real registry of the
 * stack (Apicurio locally, Confluent's under testcontainers). Compatibility is judged by the registry itself.
 */
import { describe, expect, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { testStack, uniqueName } from '../support/test-stack.ts';

function registryUrl(): string {
  const url = testStack().settings.SCHEMA_REGISTRY_URL;
  if (!url) throw new Error('the stack has no SCHEMA_REGISTRY_URL: run `npx orderly stack up`');
  return url;
}

const accountOpenedV1 = {
  type: 'record',
  name: 'AccountOpened',
  namespace: 'orderly.test',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'owner', type: 'string' },
  ],
};
/** Adds a field with a default: old data still reads, so BACKWARD accepts it. */
const accountOpenedCompatible = {
  ...accountOpenedV1,
  fields: [...accountOpenedV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
};
/** Adds a required field: old data cannot be read with it, so BACKWARD rejects it. */
const accountOpenedIncompatible = {
  ...accountOpenedV1,
  fields: [...accountOpenedV1.fields, { name: 'openedAt', type: 'long' }],
};

function avro(schema: object) {
  return { type: SchemaType.AVRO, schema: JSON.stringify(schema) } as const;
}

async function setSubjectCompatibility(subject: string, compatibility: string): Promise<void> {
  const response = await fetch(`${registryUrl()}/config/${subject}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility }),
  });
  expect(response.status).toBe(200);
}

async function deleteSubject(subject: string): Promise<void> {
  await fetch(`${registryUrl()}/subjects/${subject}`, { method: 'DELETE' });
  await fetch(`${registryUrl()}/subjects/${subject}?permanent=true`, { method: 'DELETE' });
}

describe('the schema registry of the stack', () => {
  it('registers a schema, returns its id, serves it by id, and gives the same id on re-registration', async () => {
    const registry = new SchemaRegistry({ host: registryUrl() });
    const subject = `${uniqueName('registry')}-value`;
    try {
      const { id } = await registry.register(avro(accountOpenedV1), { subject });
      expect(id).toBeGreaterThan(0);

      // A fresh client has nothing cached: this is a real GET /schemas/ids/{id}.
      const fetched = await new SchemaRegistry({ host: registryUrl() }).getSchema(id);
      expect((fetched as unknown as { name: string }).name).toBe('orderly.test.AccountOpened');

      // Re-registering the same schema, even formatted differently, answers with the same id.
      const again = await new SchemaRegistry({ host: registryUrl() }).register(
        { type: SchemaType.AVRO, schema: JSON.stringify(accountOpenedV1, null, 2) },
        { subject },
      );
      expect(again.id).toBe(id);

      // And the round trip through the Confluent wire format decodes to what was encoded.
      const encoded = await registry.encode(id, { accountId: 'acc-1', owner: 'Ada' });
      expect(encoded[0]).toBe(0);
      expect(encoded.readInt32BE(1)).toBe(id);
      expect(await new SchemaRegistry({ host: registryUrl() }).decode(encoded)).toEqual({ accountId: 'acc-1', owner: 'Ada' });
    } finally {
      await deleteSubject(subject);
    }
  });

  it('under BACKWARD rejects an incompatible version itself (HTTP 409) and accepts a compatible one', async () => {
    const registry = new SchemaRegistry({ host: registryUrl() });
    const subject = `${uniqueName('compat')}-value`;
    try {
      const first = await registry.register(avro(accountOpenedV1), { subject });
      await setSubjectCompatibility(subject, 'BACKWARD');

      // Our code does not judge: the raw registry answer is Confluent's 409.
      const raw = await fetch(`${registryUrl()}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(accountOpenedIncompatible) }),
      });
      expect(raw.status).toBe(409);
      expect(((await raw.json()) as { error_code: number }).error_code).toBe(409);
      await expect(registry.register(avro(accountOpenedIncompatible), { subject })).rejects.toMatchObject({ status: 409 });

      const compatible = await registry.register(avro(accountOpenedCompatible), { subject });
      expect(compatible.id).not.toBe(first.id);
      const versions = (await (await fetch(`${registryUrl()}/subjects/${subject}/versions`)).json()) as number[];
      expect(versions).toEqual([1, 2]);
    } finally {
      await deleteSubject(subject);
    }
  });

  it('answers a lookup of an unknown id with Confluent not-found error 40403', async () => {
    const unknownId = 2_000_000_000;
    await expect(new SchemaRegistry({ host: registryUrl() }).getSchema(unknownId)).rejects.toMatchObject({ status: 404 });
    const raw = await fetch(`${registryUrl()}/schemas/ids/${unknownId}`);
    expect(raw.status).toBe(404);
    expect(((await raw.json()) as { error_code: number }).error_code).toBe(40403);
  });

  it('answers a lookup of an unknown subject with 40401', async () => {
    const raw = await fetch(`${registryUrl()}/subjects/${uniqueName('missing')}-value/versions`);
    expect(raw.status).toBe(404);
    expect(((await raw.json()) as { error_code: number }).error_code).toBe(40401);
  });
});
