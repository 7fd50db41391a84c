/**
 * What a careful operator needs from the console's changes beyond the count: a confirmation names the exact
 * records its dry run showed, so a DLT that changed meanwhile (one record replayed, another dead-lettered: the
 * same count) is refused and nothing is sent. With Kafka or Redis down, each page says so within a bounded time
 * (an error on the page, never a hang, never an empty page that reads as "no dead letters").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole } from '../../../console/console-server.ts';
import { call, deadLetter, startConsoleFixture, type ConsoleFixture } from './console-fixture.ts';

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

async function endsOf(topic: string): Promise<string[]> {
  return (await fixture.admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((entry) => entry.high);
}

interface ReplayAnswer {
  preview: { selected: number; selection: string; items: { eventId: string; action: string }[] };
  job: { id: string } | null;
}

async function finished(id: string): Promise<{ state: string }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await json<{ state: string }>(await call(fixture, `/api/jobs/${id}`));
    if (job.state !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still running after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('orderly console: confirmations', () => {
  it('refuses a replay whose records changed since the dry run though their count did not, and sends nothing', async () => {
    const csrf = (await json<{ csrfToken: string }>(await call(fixture, '/api/session'))).csrfToken;
    const byKey = { group: fixture.group, topic: fixture.topic, filter: { key: 'account-1' } };
    const looked = await json<ReplayAnswer>(await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: byKey }));
    expect(looked.preview.items.map((item) => [item.eventId, item.action])).toEqual([['pay#1', 'source']]);

    // Meanwhile: someone replays pay#1, and a new dead letter of the same key arrives.
    const other = { group: fixture.group, topic: fixture.topic, records: ['p0@0'] };
    const otherDry = await json<ReplayAnswer>(await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: other }));
    const otherRun = await json<ReplayAnswer>(await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: { ...other, confirm: 1, selection: otherDry.preview.selection } }));
    expect((await finished(otherRun.job!.id)).state).toBe('done');
    const producer = fixture.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: fixture.dltTopic, acks: -1, messages: [deadLetter('account-1', 'pay#1-again', JSON.stringify({ accountId: 'account-1', amountCents: 999 }), 0)] });
    await producer.disconnect();
    const now = await json<ReplayAnswer>(await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: byKey }));
    expect(now.preview.items.filter((item) => item.action === 'source').map((item) => item.eventId)).toEqual(['pay#1-again']);
    expect(now.preview.selected).toBe(looked.preview.selected);

    const before = await endsOf(fixture.topic);
    const stale = await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: { ...byKey, confirm: 1, selection: looked.preview.selection } });
    expect(stale.status).toBe(409);
    expect((await json<{ error: string }>(stale)).error).toContain('not the ones the dry run showed');
    // A count without the selection is no confirmation.
    const countOnly = await call(fixture, '/api/dlt/replay', { method: 'POST', csrf, json: { ...byKey, confirm: 1 } });
    expect(countOnly.status).toBe(400);
    expect(await endsOf(fixture.topic)).toEqual(before);
  });

  it('says Kafka or Redis is down on each page, in bounded time, instead of showing an empty list', async () => {
    const down = await startConsole({ kafka: { brokers: ['127.0.0.1:1'] }, redisUrl: 'redis://127.0.0.1:2', port: 0 });
    try {
      const headers = { authorization: `Bearer ${down.token}`, accept: 'text/html' };
      const started = Date.now();
      const pages = await Promise.all(['/', '/dlt', '/keys', '/keys?group=billing', '/groups/billing', '/schedules'].map(async (path) => {
        const answer = await fetch(`${down.url}${path}`, { headers, signal: AbortSignal.timeout(60_000) });
        return { path, status: answer.status, text: await answer.text() };
      }));
      for (const { path, status, text } of pages) {
        expect(text, path).toContain('Could not read this');
        expect(status, path).not.toBe(500);
      }
      expect(pages.find((entry) => entry.path === '/dlt')!.status).toBe(503);
      expect(pages.find((entry) => entry.path === '/dlt')!.text).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      await down.stop();
    }
  });
});
