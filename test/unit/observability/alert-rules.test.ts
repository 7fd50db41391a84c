/**
 * The alert rules and the dashboard name only metrics the code registers (histograms with their `_bucket`,
 * `_sum` and `_count` series), every rule the issue asks for is there, and `promtool check rules` accepts the
 * file where promtool is installed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OrderlyMetrics, metricNames } from '../../../observability/metrics.ts';

const rulesFile = 'observability/alerts/orderly.rules.yml';

async function exportedSeries(): Promise<Set<string>> {
  const metrics = new OrderlyMetrics({ processMetrics: false });
  const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => ({ name: metric.name, type: String(metric.type) }));
  expect(registered.map(({ name }) => name).sort()).toEqual([...metricNames].sort());
  return new Set(registered.flatMap(({ name, type }) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
}

const namedIn = (expression: string) => [...expression.matchAll(/\borderly_[a-z0-9_]+\b/g)].map((match) => match[0]);

describe('alert rules', () => {
  const document = parse(readFileSync(rulesFile, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; labels?: Record<string, string> }[] }[] };
  const rules = document.groups.flatMap((group) => group.rules);

  it('name only metrics the code registers', async () => {
    const series = await exportedSeries();
    for (const rule of rules) {
      const names = namedIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(series.has(name), `${rule.alert} names ${name}`).toBe(true);
    }
  });

  it('cover backlog, dead letters, retries, handler time, stalled partitions (from the lag and from the member itself), missing members, and cron schedules that miss a slot or have no leader', () => {
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      'OrderlyBacklogGrowing',
      'OrderlyClientCrashing',
      'OrderlyClientStalled',
      'OrderlyCronNoLeader',
      'OrderlyCronSlotMissed',
      'OrderlyDeadLettersGrowing',
      'OrderlyForwardStuck',
      'OrderlyHandlerP99Doubled',
      'OrderlyNoActiveMembers',
      'OrderlyPartitionStalled',
      'OrderlyPartitionWatermarkStalled',
      'OrderlyRetryRateSpiking',
      'OrderlyUndecodableBatch',
    ]);
    for (const rule of rules) expect(['warning', 'critical']).toContain(rule.labels?.severity);
  });

  it('pass promtool check rules, where promtool is installed', (context) => {
    let version: string;
    try {
      version = execFileSync('promtool', ['--version'], { encoding: 'utf8' });
    } catch {
      context.skip();
      return;
    }
    expect(version).toContain('promtool');
    expect(execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' })).toContain('SUCCESS: 13 rules found');
  });
});

describe('dashboard', () => {
  it('queries only metrics the code registers, and every counter family has a panel', async () => {
    const series = await exportedSeries();
    const dashboard = JSON.parse(readFileSync('observability/dashboards/orderly.json', 'utf8')) as { uid: string; panels: { title: string; targets: { expr: string }[] }[] };
    expect(dashboard.uid).toBe('orderly-consumers');
    const queried = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        for (const name of namedIn(expr)) {
          expect(series.has(name), `panel "${panel.title}" names ${name}`).toBe(true);
          queried.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    const unshown = metricNames.filter((name) => !queried.has(name) && name !== 'orderly_committed_offset' && name !== 'orderly_log_end_offset' && name !== 'orderly_group_joined');
    expect(unshown).toEqual([]);
  });
});
