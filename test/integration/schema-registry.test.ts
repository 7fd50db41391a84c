/**
 * The registry's own behaviour, through @kafkajs/confluent-schema-registry, against the real registry of the
 * stack (Apicurio locally, Confluent's under testcontainers). Compatibility is judged by the registry itself.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
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

  // Why Orderly keeps its own client (docs/schema-registry-client.md): the library's error keeps the HTTP
  // status but drops the registry's error_code, so "no such schema" and a proxy's bare 404 look the same.
  it("through @kafkajs/confluent-schema-registry, the registry's 40403 and a proxy's bare 404 are the same error", async () => {
    const server = createServer((_request, response) => response.writeHead(404, { 'content-type': 'text/html' }).end('<html>404 Not Found</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const fromRegistry = await new SchemaRegistry({ host: registryUrl() }).getSchema(2_000_000_000).catch((error: unknown) => error as Record<string, unknown>);
    const fromProxy = await new SchemaRegistry({ host: proxy }).getSchema(1).catch((error: unknown) => error as Record<string, unknown>);
    for (const error of [fromRegistry, fromProxy]) {
      expect(error).toMatchObject({ status: 404 });
      expect(Object.keys(error as object).filter((key) => /code/i.test(key))).toEqual([]);
    }
  });

  it("through @kafkajs/confluent-schema-registry, register refuses a subject another client created on Apicurio (its level reads NONE)", async () => {
    const subject = `${uniqueName('foreign')}-value`;
    try {
      const raw = await fetch(`${registryUrl()}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(accountOpenedV1) }),
      });
      expect(raw.status).toBe(200);
      const level = await fetch(`${registryUrl()}/config/${subject}`);
      const registering = new SchemaRegistry({ host: registryUrl() }).register(avro(accountOpenedV1), { subject });
      if (level.status === 200 && ((await level.json()) as { compatibilityLevel: string }).compatibilityLevel === 'NONE') {
        // Apicurio: a subject without its own level reads NONE, and the library compares it with its BACKWARD.
        await expect(registering).rejects.toThrow(/Compatibility does not match the configuration \(BACKWARD != NONE\)/);
      } else {
        // Confluent answers 404 (40408) there, and the library registers.
        await expect(registering).resolves.toMatchObject({ id: expect.any(Number) });
      }
    } finally {
      await deleteSubject(subject);
    }
  });
});
