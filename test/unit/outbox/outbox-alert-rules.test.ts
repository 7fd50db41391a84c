/** The outbox alert rules name only metrics the relay registers, and promtool accepts them where it is installed. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OutboxMetrics, outboxMetricNames } from '../../../outbox/outbox-metrics.ts';

const rulesFile = 'observability/alerts/outbox.rules.yml';

describe('outbox alert rules', () => {
  const document = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert: string; expr: string; labels?: Record<string, string> }[] }[] };
  const rules = document.groups.flatMap((group) => group.rules);

  it('name only metrics the relay registers, and cover the oldest unsent age, failed rows and failing relays', async () => {
    const registered = (await new OutboxMetrics().registry.getMetricsAsJSON()).map((metric) => ({ name: metric.name, type: String(metric.type) }));
    expect(registered.map(({ name }) => name).sort()).toEqual([...outboxMetricNames].sort());
    const series = new Set(registered.flatMap(({ name, type }) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    for (const rule of rules) {
      const names = [...rule.expr.matchAll(/\borderly_[a-z0-9_]+\b/g)].map((match) => match[0]);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(series.has(name), `${rule.alert} names ${name}`).toBe(true);
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
    }
    expect(rules.map((rule) => rule.alert).sort()).toEqual(['OrderlyOutboxFailedRows', 'OrderlyOutboxOldestUnsentTooOld', 'OrderlyOutboxRelayFailing']);
  });

  it('pass promtool check rules, where promtool is installed', (context) => {
    try {
      execFileSync('promtool', ['--version'], { encoding: 'utf8' });
    } catch {
      context.skip();
      return;
    }
    expect(execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' })).toContain('SUCCESS: 3 rules found');
  });
});
