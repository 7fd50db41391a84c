/**
 * The console's HTTP surface on the real stack: every request needs the token (401), a login makes an HttpOnly
 * SameSite=Strict session, a change needs the CSRF token and the console's own origin (403); the overview and
 * group show lag, DLT depth and parked keys; dead letters filter as `orderly dlt list` does and decode Avro by
 * the writer schema; replay, purge and release are dry runs until the count is confirmed, change Kafka and
 * Redis as the CLI does, and leave an audit record without payloads; hostile records are shown as text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { startConsole } from '../../../console/console-server.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { testStack } from '../../support/test-stack.ts';
import { call, startConsoleFixture, type ConsoleFixture } from './console-fixture.ts';

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture();
});

afterAll(async () => {
  await fixture?.close();
});

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function csrfOf(token?: string): Promise<string> {
  return (await json<{ csrfToken: string }>(await call(fixture, '/api/session', token ? { token } : {}))).csrfToken;
}

async function offsetsOf(topic: string): Promise<string> {
  return JSON.stringify((await fixture.admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map(({ partition, high, low }) => [partition, low, high]));
}

interface JobState {
  state: string;
  done: number;
  total: number;
  result: string;
  audit: { operator: string; action: string; confirmed: number; targets: string[]; outcome: string };
}

async function finished(id: string): Promise<JobState> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await json<JobState>(await call(fixture, `/api/jobs/${id}`));
    if (job.state !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still running after 60 s: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('orderly console over HTTP', () => {
  it('binds 127.0.0.1 and answers 401 to every request without the token', async () => {
    expect(fixture.console.host).toBe('127.0.0.1');
    expect(fixture.console.tokenGenerated).toBe(true);
    expect(fixture.console.token.length).toBeGreaterThanOrEqual(32);
    for (const path of ['/', '/dlt', '/keys', '/groups/x', '/api/overview', '/assets/console.js', '/no-such-page']) {
      expect((await call(fixture, path, { token: null })).status, path).toBe(401);
      expect((await call(fixture, path, { token: 'not-the-token-at-all' })).status, path).toBe(401);
    }
    const browser = await call(fixture, '/', { token: null, headers: { accept: 'text/html' } });
    expect(browser.status).toBe(401);
    expect(await browser.text()).toContain('name="token"');
    for (const path of ['/api/dlt/replay', '/api/dlt/purge', '/api/keys/release']) {
      expect((await call(fixture, path, { token: null, method: 'POST', json: { group: fixture.group, topic: fixture.topic, key: fixture.heldKey, confirm: 1 } })).status, path).toBe(401);
    }
  });

  it('logs in to an HttpOnly SameSite=Strict session; a change without the CSRF token, or from another origin, is 403', async () => {
    const refused = await call(fixture, '/login', { token: null, method: 'POST', body: new URLSearchParams({ token: 'wrong-token-wrong-token' }) });
    expect(refused.status).toBe(401);
    const login = await call(fixture, '/login', { token: null, method: 'POST', body: new URLSearchParams({ token: fixture.console.token, operator: 'Ada <b>' }) });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(fixture.console.token);
    const session = cookie.split(';')[0]!;
    const page = await call(fixture, '/', { token: null, headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(html)![1]!;
    expect(html).toContain('Ada b');

    const body = { group: fixture.group, topic: fixture.topic, key: fixture.heldKey, confirm: 1 };
    expect((await call(fixture, '/api/keys/release', { token: null, method: 'POST', headers: { cookie: session }, json: body })).status).toBe(403);
    expect((await call(fixture, '/api/keys/release', { token: null, method: 'POST', headers: { cookie: session }, csrf: 'forged', json: body })).status).toBe(403);
    expect((await call(fixture, '/api/keys/release', { token: null, method: 'POST', headers: { cookie: session, origin: 'http://evil.example' }, csrf, json: body })).status).toBe(403);
    // The bearer token alone is no CSRF token either.
    expect((await call(fixture, '/api/dlt/replay', { method: 'POST', json: { group: fixture.group, topic: fixture.topic, records: ['p0@0'], confirm: 1 } })).status).toBe(403);
    expect((await new RedisParkingStore({ redis: fixture.redis, groupId: fixture.group }).get(fixture.topic, 0, fixture.heldKey))?.held).toBe(true);
    // With it, a dry run is allowed (and changes nothing).
    const dryRun = await call(fixture, '/api/keys/release', { token: null, method: 'POST', headers: { cookie: session }, csrf, json: { group: fixture.group, topic: fixture.topic, key: fixture.heldKey } });
    expect(dryRun.status).toBe(200);
    const logout = await call(fixture, '/logout', { token: null, method: 'POST', headers: { cookie: session }, body: new URLSearchParams({ csrf }) });
    expect(logout.status).toBe(303);
    expect((await call(fixture, '/', { token: null, headers: { cookie: session } })).status).toBe(401);
  });

  it('shows the group with its lag per tier, DLT depth and oldest age, parked keys, and per-partition offsets', async () => {
    const overview = await json<{ groups: { group: string; topics: string[]; partitions: { tier: string; lag: number }[]; deadLetters: { records: number; oldestAt: string | null }[]; parkedKeys: number; heldKeys: number }[] }>(await call(fixture, '/api/overview'));
    expect(overview.groups.map((entry) => entry.group)).toEqual([fixture.group]);
    const [group] = overview.groups;
    expect(group!.topics).toEqual([fixture.topic]);
    expect(group!.partitions.filter((p) => p.tier === 'source').reduce((sum, p) => sum + p.lag, 0)).toBe(2);
    expect(group!.deadLetters).toEqual([expect.objectContaining({ records: 6, oldestAt: expect.any(String) })]);
    expect(group).toMatchObject({ parkedKeys: 1, heldKeys: 1 });
    const detail = await json<{ partitions: { topic: string; tier: string; partition: number; committedOffset: string | null; logEndOffset: string; lag: number; owner: unknown }[] }>(await call(fixture, `/api/groups/${fixture.group}`));
    expect(detail.partitions.filter((p) => p.tier === 'source')).toEqual([
      expect.objectContaining({ partition: 0, committedOffset: '2', logEndOffset: '3', lag: 1, owner: null }),
      expect.objectContaining({ partition: 1, committedOffset: '2', logEndOffset: '3', lag: 1, owner: null }),
    ]);
    const page = await (await call(fixture, `/groups/${fixture.group}`)).text();
    expect(page).toContain('<table id="partitions">');
  });

  it('filters dead letters by key, reason, error type and time, and decodes Avro by its writer schema', async () => {
    const list = async (query: string) => (await json<{ records: { eventId: string; payload: { format: string; schemaId?: number; value: unknown } }[] }>(await call(fixture, `/api/dlt?group=${fixture.group}&topic=${fixture.topic}${query}`))).records;
    expect((await list('')).map((record) => record.eventId)).toEqual(['pay#1', 'pay#3', 'held#1', 'pay#2', 'pay#4', 'hostile#1']);
    expect((await list('&key=account-2')).map((record) => record.eventId)).toEqual(['pay#2']);
    expect((await list('&reason=retries-exhausted')).map((record) => record.eventId)).toEqual(['held#1', 'pay#4']);
    expect((await list('&errorType=TypeError')).map((record) => record.eventId)).toEqual(['pay#4']);
    expect(await list('&until=1h')).toEqual([]);
    expect(await list('&since=1h')).toHaveLength(6);
    const avro = (await list('&reason=decode-error'))[0]!;
    expect(avro.payload).toEqual({ format: 'avro', schemaId: fixture.avroSchemaId, value: { accountId: 'acct-7', amountCents: 4200 } });
    const bad = await call(fixture, `/api/dlt?group=${fixture.group}&topic=${fixture.topic}&reason=no-such-reason`);
    expect(bad.status).toBe(400);
    const record = await (await call(fixture, `/dlt/record?group=${fixture.group}&topic=${fixture.topic}&partition=0&offset=1`)).text();
    expect(record).toContain('writer schema id ' + fixture.avroSchemaId);
    expect(record).toContain('&quot;accountId&quot;: &quot;acct-7&quot;');
    expect(record).toContain('fp-decode_error');
  });

  it('shows hostile keys, header names, errors and payloads as text, never as markup', async () => {
    const pages = [
      await (await call(fixture, `/dlt?group=${fixture.group}&topic=${fixture.topic}`)).text(),
      await (await call(fixture, `/dlt/record?group=${fixture.group}&topic=${fixture.topic}&partition=1&offset=2`)).text(),
      await (await call(fixture, `/keys?group=${fixture.group}`)).text(),
    ];
    const [list, record] = pages;
    for (const page of pages) {
      expect(page).not.toMatch(/<script>window/);
      expect(page).not.toMatch(/<img src=x/);
      expect(page).not.toMatch(/<svg onload/);
      // Every script tag is the console's own.
      expect(page.match(/<script\b[^>]*>/g)).toEqual(['<script src="/assets/console.js" defer>']);
    }
    expect(list).toContain('&lt;script&gt;window.__pwned = &quot;key&quot;&lt;/script&gt;');
    expect(list).toContain('&lt;/td&gt;&lt;script&gt;window.__pwned = &quot;error&quot;&lt;/script&gt;');
    expect(record).toContain('&lt;img src=x onerror=&quot;window.__pwned=&#39;header&#39;&quot;&gt;');
    expect(record).toContain('&quot;&gt;&lt;svg onload=&quot;window.__pwned=&#39;value&#39;&quot;&gt;');
    expect(record).toContain('&lt;/pre&gt;&lt;script&gt;window.__pwned = \\&quot;payload\\&quot;&lt;/script&gt;');
  });

  it('replays two records: a dry run changes nothing, a wrong count is refused, the confirmed replay runs at the configured rate, is counted and audited', async () => {
    const csrf = await csrfOf();
    const request = { group: fixture.group, topic: fixture.topic, records: ['p0@0', 'p1@0'] };
    const before = await offsetsOf(fixture.topic);
    const dry = await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: request });
    expect(dry.status).toBe(200);
    const { preview } = await json<{ preview: { selected: number; selection: string; ratePerSecond: number; items: { position: string; action: string; eventId: string }[] } }>(dry);
    expect(preview.selected).toBe(2);
    expect(preview.ratePerSecond).toBe(100);
    expect(preview.items.map((item) => [item.position, item.action, item.eventId])).toEqual([['p0@0', 'source', 'pay#1'], ['p1@0', 'source', 'pay#2']]);
    const wrong = await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: { ...request, confirm: 3, selection: preview.selection } });
    expect(wrong.status).toBe(409);
    expect((await json<{ error: string }>(wrong)).error).toContain('nothing was changed');
    expect(await offsetsOf(fixture.topic)).toBe(before);

    const started = await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, headers: { 'x-orderly-operator': 'grace' }, json: { ...request, confirm: 2, selection: preview.selection } });
    expect(started.status).toBe(202);
    const job = await finished((await json<{ job: { id: string } }>(started)).job.id);
    expect(job).toMatchObject({ state: 'done', done: 2, total: 2, result: `replayed 2: 2 to ${fixture.topic}, 0 into parked keys' lanes` });
    expect(job.audit).toMatchObject({ operator: 'grace', action: 'dlt.replay', confirmed: 2, targets: ['p0@0 pay#1', 'p1@0 pay#2'], outcome: 'done' });
    const after = JSON.parse(await offsetsOf(fixture.topic)) as [number, string, string][];
    expect(after.map(([, , high]) => high)).toEqual(['4', '4']);
    // Counted: a second dry run skips them.
    const again = await json<{ preview: { selected: number; counts: { skipped: number } } }>(await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: request }));
    expect(again.preview).toMatchObject({ selected: 0, counts: { skipped: 2 } });
    // The audit trail: logged (no payload), and on the Audit page.
    const audited = fixture.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.audit === true && line.action === 'dlt.replay');
    expect(audited.map((line) => line.outcome)).toEqual(['running', 'done']);
    expect(fixture.logLines.join('\n')).not.toContain('amountCents');
    expect(fixture.logLines.join('\n')).not.toContain(fixture.console.token);
    expect(await (await call(fixture, '/audit')).text()).toContain('p0@0 pay#1');
  });

  it('purges the replayed prefix of each partition after a dry run and a confirmed count', async () => {
    const csrf = await csrfOf();
    const request = { group: fixture.group, topic: fixture.topic };
    const dry = await json<{ preview: { selected: number; selection: string; partitions: { partition: number; purged: number; kept: number }[] } }>(await call(fixture, '/api/dlt/purge', { method: 'POST', csrf, json: request }));
    expect(dry.preview.selected).toBe(2);
    expect(dry.preview.partitions.map(({ partition, purged, kept }) => [partition, purged, kept])).toEqual([[0, 1, 2], [1, 1, 2]]);
    expect((await call(fixture, '/api/dlt/purge', { method: 'POST', csrf, json: { ...request, confirm: 1, selection: dry.preview.selection } })).status).toBe(409);
    // The count alone is not a confirmation: the selection the dry run showed goes with it.
    expect((await call(fixture, '/api/dlt/purge', { method: 'POST', csrf, json: { ...request, confirm: 2 } })).status).toBe(400);
    const done = await json<{ audit: { result: string } }>(await call(fixture, '/api/dlt/purge', { method: 'POST', csrf, json: { ...request, confirm: 2, selection: dry.preview.selection } }));
    expect(done.audit.result).toBe(`deleted 2 replayed record(s) from ${fixture.dltTopic}; 4 stay`);
    const lows = (await fixture.admin.fetchTopicOffsets(fixture.dltTopic)).sort((a, b) => a.partition - b.partition).map((entry) => entry.low);
    expect(lows).toEqual(['1', '1']);
  });

  it('releases a held key after a dry run and a confirmed count, in Redis', async () => {
    const csrf = await csrfOf();
    const store = new RedisParkingStore({ redis: fixture.redis, groupId: fixture.group });
    const request = { group: fixture.group, topic: fixture.topic, key: fixture.heldKey };
    const keys = await json<{ keys: { key: string; held: boolean; queue: string[]; headReason: string }[] }>(await call(fixture, `/api/keys?group=${fixture.group}`));
    expect(keys.keys).toEqual([expect.objectContaining({ key: fixture.heldKey, held: true, queue: ['held#1', 'held#2'], headReason: 'held: retries-exhausted, TimeoutError: bank did not answer' })]);
    const dry = await json<{ preview: { selected: number; selection: string; entries: { change: string }[] } }>(await call(fixture, '/api/keys/release', { method: 'POST', csrf, json: request }));
    expect(dry.preview.selected).toBe(1);
    expect(dry.preview.entries[0]!.change).toBe('un-hold it (2 queued event(s) are handled in order)');
    expect((await call(fixture, '/api/keys/release', { method: 'POST', csrf, json: { ...request, confirm: 2, selection: dry.preview.selection } })).status).toBe(409);
    expect((await store.get(fixture.topic, 0, fixture.heldKey))?.held).toBe(true);
    const done = await json<{ audit: { result: string; action: string } }>(await call(fixture, '/api/keys/release', { method: 'POST', csrf, json: { ...request, confirm: 1, selection: dry.preview.selection } }));
    expect(done.audit).toMatchObject({ action: 'keys.release', result: 'p0: released, 2 queued event(s) go on in order' });
    expect(await store.get(fixture.topic, 0, fixture.heldKey)).toMatchObject({ held: false, queue: ['held#1', 'held#2'] });
    expect((await call(fixture, '/api/keys/release', { method: 'POST', csrf, json: request })).status).toBe(200);
  });

  it('reads paused partitions, handlers in flight and records queued from the consumers\' /metrics (with their token)', async () => {
    const metrics = new OrderlyMetrics();
    metrics.addSource({ groupId: fixture.group, stats: () => ({ inFlight: 3, queued: 40, pausedPartitions: 2, gatedPartitions: 0 }), parkedKeys: async () => 1, joined: () => true });
    const token = 'metrics-token-0123456789';
    const server = await startObservabilityServer({ port: 0, metrics, token });
    const { settings } = testStack();
    const withMetrics = await startConsole({ kafka: { brokers: settings.KAFKA_BROKERS.split(',') }, groups: [fixture.group], port: 0, metricsUrls: [`http://127.0.0.1:${server.port}/metrics`], metricsToken: token });
    try {
      const overview = (await (await fetch(`${withMetrics.url}/api/overview`, { headers: { authorization: `Bearer ${withMetrics.token}` } })).json()) as { groups: { consumers: unknown }[] };
      expect(overview.groups[0]!.consumers).toEqual({ pausedPartitions: 2, handlersInFlight: 3, recordsQueued: 40, joined: 1 });
      const page = await (await fetch(`${withMetrics.url}/groups/${fixture.group}`, { headers: { authorization: `Bearer ${withMetrics.token}` } })).text();
      expect(page).toMatch(/paused partitions \(\/metrics\)<\/div><div class="big">2<\/div>/);
    } finally {
      await withMetrics.stop();
      await server.stop();
    }
  });

  it('shows the schedules of the schedule topic', async () => {
    const page = await (await call(fixture, '/schedules')).text();
    expect(page).toContain(`1 schedule(s) on ${fixture.scheduleTopic}`);
    expect(page).toMatch(/<td>nightly-report<\/td><td class="mono">0 \* \* \* \* \*<\/td><td>Europe\/Berlin<\/td><td>reports<\/td><td class="mono">\d{4}-[^<]+<\/td><td class="mono">\d{4}-[^<]+<\/td><td>worker-1:4242<\/td><td class="num bad">0<\/td>/);
  });

  it('shows the outbox: pending rows, the oldest one\'s age, failed rows by topic', async (context) => {
    if (!fixture.outboxTable) return context.skip('the stack has no DATABASE_URL');
    const page = await (await call(fixture, '/outbox')).text();
    expect(page).toMatch(/pending rows<\/div><div class="big">3<\/div>/);
    expect(page).toMatch(/failed rows<\/div><div class="big bad">1<\/div>/);
    expect(page).toContain('<td>payments</td><td>topic payments does not exist</td><td class="num">1</td>');
  });

  it('hides payloads with showPayloads: false, and says when there is no schedule topic or outbox table', async () => {
    const { settings } = testStack();
    const hidden = await startConsole({ kafka: { brokers: settings.KAFKA_BROKERS.split(',') }, groups: [fixture.group], port: 0, showPayloads: false, scheduleTopic: 'console-test-no-schedules', ...(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL, outboxTable: 'console_test_no_outbox' } : {}) });
    try {
      const headers = { authorization: `Bearer ${hidden.token}` };
      const records = (await (await fetch(`${hidden.url}/api/dlt?group=${fixture.group}&topic=${fixture.topic}`, { headers })).json()) as { records: { payload: unknown }[] };
      expect(records.records.length).toBeGreaterThan(0);
      expect(records.records.every((record) => record.payload === null)).toBe(true);
      const page = await (await fetch(`${hidden.url}/dlt/record?group=${fixture.group}&topic=${fixture.topic}&partition=0&offset=1`, { headers })).text();
      expect(page).toContain('Payloads are hidden');
      expect(page).not.toContain('acct-7');
      expect(await (await fetch(`${hidden.url}/schedules`, { headers })).text()).toContain('No schedule topic console-test-no-schedules');
      expect(await (await fetch(`${hidden.url}/outbox`, { headers })).text()).toContain(settings.DATABASE_URL ? 'no outbox table console_test_no_outbox' : 'No outbox database configured');
    } finally {
      await hidden.stop();
    }
  });
});
