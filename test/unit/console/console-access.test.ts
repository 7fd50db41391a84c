/**
 * Who reaches the console, without Kafka: every method and path needs the token (mounted under a prefix too,
 * HEAD, OPTIONS and unknown paths included), and a console bound to loopback answers only to its own names, so
 * a page whose name was rebound to 127.0.0.1 (DNS rebinding) cannot even try the login.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNameOf, orderlyConsole, startConsole, type RunningConsole } from '../../../console/console-server.ts';

const kafka = { brokers: ['127.0.0.1:1'] };
const token = 'unit-test-token-0123456789';

describe('console access', () => {
  let running: RunningConsole;

  beforeAll(async () => {
    running = await startConsole({ kafka, token, port: 0 });
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('reads the name of a Host header without its port', () => {
    expect(hostNameOf('127.0.0.1:8088')).toBe('127.0.0.1');
    expect(hostNameOf('LocalHost.:8088')).toBe('localhost');
    expect(hostNameOf('[::1]:8088')).toBe('[::1]');
    expect(hostNameOf(undefined)).toBe('');
  });

  it('bound to loopback, answers 421 to a rebound name, before the login and with the right token', async () => {
    const port = running.port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`]) {
      const headers = { host };
      expect((await running.app.inject({ method: 'GET', url: '/login', headers })).statusCode, host).toBe(421);
      const login = await running.app.inject({ method: 'POST', url: '/login', headers, payload: { token }, });
      expect(login.statusCode, host).toBe(421);
      expect(login.headers['set-cookie'], host).toBeUndefined();
      expect((await running.app.inject({ method: 'GET', url: '/api/session', headers: { ...headers, authorization: `Bearer ${token}` } })).statusCode, host).toBe(421);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await running.app.inject({ method: 'GET', url: '/api/session', headers: { host, authorization: `Bearer ${token}` } })).statusCode, host).toBe(200);
    }
  });

  it('mounted under a prefix, needs the token for every method and path but the login and its stylesheet', async () => {
    const app = Fastify();
    await app.register(orderlyConsole, { prefix: '/ops/console', kafka, token });
    try {
      const open = ['GET /ops/console/login', 'GET /ops/console/assets/console.css', 'HEAD /ops/console/login'];
      const closed = ['GET /ops/console/', 'HEAD /ops/console/', 'OPTIONS /ops/console/api/dlt/replay', 'GET /ops/console/assets/console.js', 'HEAD /ops/console/api/session', 'GET /ops/console/api/session', 'GET /ops/console/nope', 'DELETE /ops/console/api/audit', 'POST /ops/console/api/keys/release', 'GET /ops/console/login/../api/session', 'GET /ops/console/%61pi/session', 'GET /ops/console/api/session?x=/login'];
      for (const line of open) {
        const [method, url] = line.split(' ') as ['GET', string];
        expect((await app.inject({ method, url, headers: { host: 'ops.example' } })).statusCode, line).toBe(200);
      }
      for (const line of closed) {
        const [method, url] = line.split(' ') as ['GET', string];
        const answer = await app.inject({ method, url, headers: { host: 'ops.example' } });
        expect(answer.statusCode, line).toBe(401);
        expect(answer.body, line).not.toContain('csrf');
      }
      // A mounted console leaves the Host to the service (no loopback names forced on it).
      expect((await app.inject({ method: 'GET', url: '/ops/console/api/session', headers: { host: 'ops.example', authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
