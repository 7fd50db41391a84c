/**
 * The observability server answers every request, however malformed, and stays up: raw sockets send broken
 * request lines (an unparsable absolute URL among them), bad headers and odd methods; each gets a 4xx status
 * line (or, for bytes that are not HTTP at all, a 400 and a closed connection), and `/healthz` still answers.
 * It binds 127.0.0.1 unless told otherwise, and with a token every path but `/healthz` needs it.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ObservabilityServer, startObservabilityServer } from '../../../observability/http.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';

const servers: ObservabilityServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serve(options: { token?: string; host?: string } = {}): Promise<ObservabilityServer> {
  const server = await startObservabilityServer({ port: 0, metrics: new OrderlyMetrics({ processMetrics: false }), ...options });
  servers.push(server);
  return server;
}

/** Sends raw bytes, returns what came back until the server closed the connection (or 3 s passed). */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes);
    socket.end();
  });
}

function statusOf(answer: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
  return match ? Number(match[1]) : 0;
}

/** A seeded generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const malformed: [string, string | Buffer][] = [
  ['an absolute URL that does not parse', 'GET http://[/metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an absolute URL with a bad port', 'GET http://localhost:99999999/metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an authority-form target', 'GET localhost:80 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a bare asterisk', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a scheme only', 'GET http:// HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['percent garbage', 'GET /%zz%%/metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an unknown version', 'GET /metrics HTTP/9.9\r\n\r\n'],
  ['no target', 'GET  HTTP/1.1\r\n\r\n'],
  ['a lowercase method', 'get /metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an unknown method', 'BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['DELETE', 'DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['CONNECT', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a header without a colon', 'GET /metrics HTTP/1.1\r\nHost x\r\n\r\n'],
  ['a header name with a space', 'GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n'],
  ['a NUL in a header value', 'GET /metrics HTTP/1.1\r\nHost: a\u0000b\r\n\r\n'],
  ['a NUL in the target', 'GET /met\u0000rics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a bare LF request', 'GET /metrics HTTP/1.1\nHost: x\n\n'],
  ['duplicate content-length', 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ['a negative content-length', 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ['a bad chunk size', 'POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['headers over 16 KiB', `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ['a target over 16 KiB', `GET /${'m'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['binary noise', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03])],
  ['a request line of control bytes', '\u0001\u0002\u0003 \u0004 HTTP/1.1\r\n\r\n'],
];

describe('observability server under malformed requests', () => {
  it.each(malformed)('answers %s with a 4xx and stays up', async (_name, bytes) => {
    const server = await serve();
    const answer = await raw(server.port, bytes);
    const status = statusOf(answer);
    expect(status, answer.slice(0, 200)).toBeGreaterThanOrEqual(400);
    expect(status, answer.slice(0, 200)).toBeLessThan(500);
    expect(statusOf(await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(200);
  });

  it.each([
    ['a request line without a version (read as HTTP/0.9)', 'GET /metrics\r\n\r\n'],
    ['empty lines only (no request at all)', '\r\n\r\n'],
    ['a half-sent request line', 'GET /metr'],
    ['an upgrade to an unknown protocol (served as a plain GET)', 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'],
  ])('survives %s', async (_name, bytes) => {
    const server = await serve();
    const status = statusOf(await raw(server.port, bytes));
    expect([0, 200, 400]).toContain(status);
    expect(statusOf(await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(200);
  });

  it('answers 300 random request lines and header sets and is still up (seeded)', async () => {
    const server = await serve({ token: 'fuzz-token' });
    const next = random(20_261_130);
    const alphabet = ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\t\u0000\u007f\u00ff\u00e9azAZ09\r\n';
    const noise = (length: number) => Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'TRACE', 'BREW', 'G\u0000T', '', noise(4)];
    const targets = ['/metrics', '/readyz', '/healthz', 'http://[/metrics', `/${noise(12)}`, noise(8), '//', '/?a=%', 'http://a@b@c/', '*'];
    let answered = 0;
    for (let round = 0; round < 300; round++) {
      const pick = <V>(list: V[]) => list[Math.floor(next() * list.length)]!;
      const headers = Array.from({ length: Math.floor(next() * 4) }, () => `${pick(['Host', 'Authorization', 'X-A', noise(5)])}: ${pick(['Bearer fuzz-token', 'Bearer x', noise(10)])}`);
      const request = `${pick(methods)} ${pick(targets)} ${pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2', noise(3)])}\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`;
      const status = statusOf(await raw(server.port, request));
      // 200 only for a well-formed request that carried the token (or asked for /healthz); else a 4xx, never a 5xx.
      expect(status === 200 || (status >= 400 && status < 500), request).toBe(true);
      answered++;
    }
    expect(answered).toBe(300);
    expect(statusOf(await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(200);
  });
});

describe('observability server defaults and token', () => {
  it('binds 127.0.0.1 by default; the address is an explicit option', async () => {
    const server = await serve();
    expect(server.address).toBe('127.0.0.1');
    expect(new ObservabilityServer({ port: 0, host: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  it('with a token, /metrics and /readyz need it (401 otherwise); /healthz stays open', async () => {
    const server = await serve({ token: 's3cret-token' });
    const get = (path: string, authorization?: string) =>
      raw(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${authorization === undefined ? '' : `Authorization: ${authorization}\r\n`}Connection: close\r\n\r\n`).then(statusOf);
    expect(await get('/metrics')).toBe(401);
    expect(await get('/readyz', 'Bearer wrong')).toBe(401);
    expect(await get('/metrics', 'Basic s3cret-token')).toBe(401);
    expect(await get('/metrics', 'Bearer')).toBe(401);
    expect(await get('/metrics', 'Bearer s3cret-tokenX')).toBe(401);
    expect(await get('/metrics', 'Bearer s3cret-token')).toBe(200);
    expect(await get('/readyz', 'Bearer s3cret-token')).toBe(200);
    expect(await get('/healthz')).toBe(200);
  });

  it('refuses a token too short to be one', () => {
    expect(() => new ObservabilityServer({ port: 0, token: 'abc' })).toThrow(/token/);
  });
});
