/**
 * `orderly demo work --metrics-port` shows a member's state from outside the process: `/healthz` answers,
 * `/readyz` turns ready once the member joined its group, `/metrics` counts the events it handled, with
 * `ORDERLY_METRICS_TOKEN` set only `/healthz` answers without the token; SIGTERM stops it (exit 0).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { topicLayoutOf } from '../../../consumers/retries/topic-layout.ts';
import { ledgerNamespaceOf } from '../../../examples/ledger/ledger-store.ts';
import { testKafka, testStack, uniqueName } from '../../support/test-stack.ts';
import { parsePrometheusText, sumOf } from '../observability/prometheus-text.ts';

const topic = uniqueName('demo-metrics');
const group = uniqueName('demo-metrics-group');
const env = () => ({ ...process.env, ...testStack().settings, ORDERLY_METRICS_TOKEN: 'demo-metrics-token' });

afterAll(async () => {
  const admin = testKafka().admin();
  await admin.connect();
  const layout = topicLayoutOf(topic, group, 2);
  await admin.deleteTopics({ topics: [layout.source, ...layout.retries, layout.deadLetter] }).catch(() => undefined);
  await admin.disconnect();
  const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL });
  await pool.query(`drop schema if exists ${ledgerNamespaceOf(topic, group)} cascade`).catch(() => undefined);
  await pool.end();
});

async function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: await response.text() };
}

describe('orderly demo work --metrics-port', () => {
  it('serves /metrics, /healthz and /readyz for the member, and stops on SIGTERM', async () => {
    const produce = spawn(process.execPath, ['cli/bin.ts', 'demo', 'produce', '--topic', topic, '--group', group, '--events', '30', '--keys', '5', '--partitions', '2', '--fail-rate', '0', '--poison-rate', '0'], {
      cwd: projectRoot,
      env: env(),
      stdio: 'ignore',
    });
    expect(await new Promise((resolve) => produce.once('exit', resolve))).toBe(0);

    const worker = spawn(process.execPath, ['cli/bin.ts', 'demo', 'work', '--topic', topic, '--group', group, '--metrics-port', '0'], { cwd: projectRoot, env: env(), stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no metrics address printed within 60 s')), 60_000);
        createInterface({ input: worker.stdout! }).on('line', (line) => {
          const match = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(line);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      const token = 'demo-metrics-token';
      expect((await get(`${base}/healthz`)).status).toBe(200);
      expect((await get(`${base}/metrics`)).status).toBe(401);
      let handled = 0;
      let ready = 0;
      for (const deadline = Date.now() + 90_000; (handled < 30 || ready !== 200) && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        ready = (await get(`${base}/readyz`, token)).status;
        handled = sumOf(parsePrometheusText((await get(`${base}/metrics`, token)).body), 'orderly_records_handled_total', { group });
      }
      expect(ready).toBe(200);
      expect(handled).toBeGreaterThanOrEqual(30);
      const samples = parsePrometheusText((await get(`${base}/metrics`, token)).body);
      expect(sumOf(samples, 'orderly_group_joined', { group })).toBe(1);
      expect(sumOf(samples, 'orderly_partition_watermark_stalled', { group })).toBe(0);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
