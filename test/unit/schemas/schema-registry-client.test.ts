import { describe, expect, it } from 'vitest';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

describe('SchemaRegistryClient credentials in the URL', () => {
  const secret = 'registry-Pa55-planted';

  function clientSeeing(requests: { url: string; headers: Record<string, string> }[], answer: () => Promise<Response>) {
    return new SchemaRegistryClient({
      url: `http://orderly:${secret}@127.0.0.1:18081/apis/ccompat/v7/`,
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        requests.push({ url: String(input), headers: init?.headers as Record<string, string> });
        return answer();
      }) as typeof fetch,
    });
  }

  it('sends them as basic auth, never in the request URL or its own url', async () => {
    const requests: { url: string; headers: Record<string, string> }[] = [];
    const client = clientSeeing(requests, async () => Response.json({ schema: '"string"' }));
    expect(await client.schemaById(1)).toBe('"string"');
    expect(client.url).toBe('http://127.0.0.1:18081/apis/ccompat/v7');
    expect(requests[0]!.url).toBe('http://127.0.0.1:18081/apis/ccompat/v7/schemas/ids/1');
    expect(requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`orderly:${secret}`).toString('base64')}`);
  });

  it('keeps the password out of its errors', async () => {
    const failing = clientSeeing([], async () => {
      throw new TypeError('fetch failed');
    });
    await expect(failing.schemaById(1)).rejects.toThrow(/did not answer GET \/schemas\/ids\/1/);
    await failing.schemaById(1).catch((error: Error) => expect(error.message).not.toContain(secret));
    const refusing = clientSeeing([], async () => new Response('{"message":"Unauthorized"}', { status: 401 }));
    await refusing.schemaById(1).catch((error: Error) => {
      expect(error.message).toContain('HTTP 401');
      expect(error.message).not.toContain(secret);
    });
  });
});
