/**
 * A 404 is "not found" only when the registry says so (`error_code` 40401/40403). A wrong base URL (the
 * Confluent-style path on Apicurio) or a proxy answering bare 404s during a deploy is an outage: retried,
 * logged, `/readyz` failing, never a dead letter. The real Apicurio (ccompat API) gives the registry's own
 * answers; a tiny HTTP server on 127.0.0.1 plays the proxy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { AvroEncoder } from '../../../schemas/avro-encoder.ts';
import { avroType } from '../../../schemas/avro-type.ts';
import { DecodeError } from '../../../schemas/decode-error.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import { encodeWireFormat } from '../../../schemas/wire-format.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, startTestConsumer } from '../../support/consumer-harness.ts';
import { registryUrl, testRegistry, testSubject } from './registry-helpers.ts';

const opened = avroType({ type: 'record', name: 'Opened', namespace: 'orderly.test', fields: [{ name: 'accountId', type: 'string' }] });
const context = { topic: 't', partition: 0, offset: '0' };

/**
 * A server on 127.0.0.1 in front of the real registry: while `answering404` is set it answers bare 404s
 * (an HTML page, no registry error code) to everything but `GET /config`, which it always forwards.
 */
async function flakyProxy(): Promise<{ url: string; state: { answering404: boolean; bare404s: number } }> {
  const state = { answering404: true, bare404s: 0 };
  const server: Server = createServer((request, response) => {
    if (state.answering404 && request.url !== '/config') {
      state.bare404s += 1;
      response.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 Not Found</body></html>');
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void fetch(`${registryUrl()}${request.url}`, {
        method: request.method,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      }).then(async (answer) => response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

describe('registry 404s', () => {
  it("reads the real Apicurio's error codes: 40403 unknown id and 40401 unknown subject are 'not found'", async () => {
    const unknownId = await caught(testRegistry().schemaById(2_000_000_000));
    expect(unknownId).toMatchObject({ status: 404, registryErrorCode: 40403, notFound: true, misrouted: false, retriable: false });
    expect(await testRegistry().latest(testSubject('never-registered'))).toBeUndefined();

    const codec = new AvroCodec({ source: testRegistry(), schemaNotFoundAttempts: 1 });
    const error = await caught(codec.decode(encodeWireFormat(2_000_000_000, Buffer.from([0])), context));
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).reason).toBe('schema-not-found');
  });

  it('treats the Confluent-style base URL on Apicurio as misconfiguration: retriable, /readyz failing, refused at start', async () => {
    const subject = testSubject('misrouted');
    const id = await testRegistry().register(subject, JSON.stringify(opened.schema()));
    const wrong = new SchemaRegistryClient({ url: new URL(registryUrl()).origin }); // no /apis/ccompat/v7
    const error = await caught(new AvroCodec({ source: wrong, schemaNotFoundAttempts: 1 }).decode(encodeWireFormat(id, opened.toBuffer({ accountId: 'a' })), context));
    expect(error).toBeInstanceOf(SchemaRegistryError);
    expect(error).toMatchObject({ status: 404, notFound: false, misrouted: true, retriable: true });
    expect(wrong.readiness().ready).toBe(false);
    expect(wrong.readiness().reasons.join()).toMatch(/404 without a registry error code.*apis\/ccompat\/v7/);

    const atStart = await caught(wrong.verify());
    expect(atStart).toBeInstanceOf(ConfigurationError);
    expect((atStart as Error).message).toMatch(/does not serve the schema-registry API/);
    await expect(testRegistry().verify()).resolves.toBeUndefined();
  });

  it('a producer without autoRegister reports a proxy 404 as retriable, not as "register it first"', async () => {
    const proxy = await flakyProxy();
    const encoder = new AvroEncoder({ registry: new SchemaRegistryClient({ url: proxy.url }) });
    const error = await caught(encoder.schemaId(testSubject('proxied'), opened));
    expect(error).toMatchObject({ retriable: true, misrouted: true });
    expect((error as Error).message).not.toMatch(/register it/);
    expect((error as Error).message).toMatch(/a 404 without a registry error code: is http:\/\/127\.0\.0\.1:\d+ the registry's base URL/);
  });

  it('a consumer behind a proxy answering bare 404s waits and is not ready, then handles the record: nothing dead-lettered', async () => {
    const topic = await createTestTopic({ prefix: 'registry-404' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    const deadLetterTopic = deadLetterTopicOf(topic, groupId);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: deadLetterTopic, numPartitions: 1, replicationFactor: 1 }] });
    onTestFinished(() => admin.deleteTopics({ topics: [deadLetterTopic] }).catch(() => undefined));
    const subject = testSubject('proxied-consumer');
    const id = await testRegistry().register(subject, JSON.stringify(opened.schema()));
    await produce(topic, [{ key: 'k', value: encodeWireFormat(id, opened.toBuffer({ accountId: 'acc-1' })) }]);

    const proxy = await flakyProxy();
    const registry = new SchemaRegistryClient({ url: proxy.url });
    const handled: unknown[] = [];
    const deadLettered: string[] = [];
    const consumer = startTestConsumer<unknown>({
      groupId,
      topics: [topic],
      decoder: new AvroCodec({ source: registry, schemaNotFoundAttempts: 1 }),
      handler: async ({ value }) => void handled.push(value),
    });
    consumer.events.on('consumer.record.dead-lettered', ({ reason }) => deadLettered.push(reason));
    await consumer.start(); // the URL check (GET /config) passes; the schema lookups get bare 404s
    await eventually(() => proxy.state.bare404s >= 3, () => `${proxy.state.bare404s} bare 404s`, 60_000);
    expect(handled).toEqual([]);
    expect(deadLettered).toEqual([]);
    expect(registry.readiness()).toMatchObject({ ready: false, reasons: [expect.stringMatching(/HTTP 404 without a registry error code/)] });
    proxy.state.answering404 = false; // the deploy ends
    await eventually(() => handled.length === 1, () => `${handled.length} handled`, 60_000);
    expect(handled).toEqual([{ accountId: 'acc-1' }]);
    expect(deadLettered).toEqual([]);
    expect(registry.readiness().ready).toBe(true);
  });

  it('a consumer whose registry URL is wrong does not start, and says which URL', async () => {
    const topic = await createTestTopic({ prefix: 'registry-wrong-url' });
    const consumer = startTestConsumer<unknown>({
      groupId: testGroupId(),
      topics: [topic],
      decoder: new AvroCodec({ source: new SchemaRegistryClient({ url: new URL(registryUrl()).origin }) }),
      handler: async () => undefined,
    });
    await expect(consumer.start()).rejects.toThrow(/does not serve the schema-registry API/);
  });
});

describe('a writer schema with a __proto__ field, registered on the real registry', () => {
  it('is refused at decode time with forbidden-field; the value never gets a prototype from data', async () => {
    const hostile = { type: 'record', name: 'Hostile', namespace: 'orderly.test', fields: [{ name: '__proto__', type: { type: 'record', name: 'Admin', fields: [{ name: 'isAdmin', type: 'boolean' }] } }] };
    const id = await testRegistry().register(testSubject('proto-field'), JSON.stringify(hostile));
    const error = await caught(new AvroCodec({ source: testRegistry() }).decode(encodeWireFormat(id, Buffer.from([1])), context));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ reason: 'forbidden-field' });
    expect((error as Error).message).toMatch(/Hostile\.__proto__/);
  });
});

describe('the URL check at start', () => {
  it('lets a consumer start while the registry is down (it waits, not ready), but not on a URL that is not a registry', async () => {
    const server = createServer((_request, response) => response.writeHead(503).end('{"error_code":50301,"message":"starting"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const down = new SchemaRegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    await expect(new AvroCodec({ source: down }).verify()).resolves.toBeUndefined();
    expect(down.readiness().ready).toBe(false);
    await expect(new AvroCodec({ source: new SchemaRegistryClient({ url: new URL(registryUrl()).origin }) }).verify()).rejects.toThrow(ConfigurationError);
  });
});
