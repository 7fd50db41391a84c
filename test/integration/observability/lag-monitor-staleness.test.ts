/**
 * What the lag monitor reports must be current: the DLT-age series goes with a deleted DLT (and a recreated
 * DLT is measured afresh, not from the old one's cache), and `/readyz` is not ready while lag polls keep
 * failing (before the first success, or once the last success is older than `staleAfterMs`).
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { deadLetterTopicOf, ensureTopicLayout } from '../../../consumers/retries/topic-layout.ts';
import { LagMonitor } from '../../../observability/lag-monitor.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { eventually, produce } from '../../support/consumer-harness.ts';

const kafka = () => ({ brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId: 'lag-staleness-test' });

async function ageSeries(metrics: OrderlyMetrics, groupId: string): Promise<number[]> {
  const metric = await metrics.registry.getSingleMetric('orderly_dead_letter_oldest_age_seconds')!.get();
  return metric.values.filter((value) => value.labels.group === groupId).map((value) => value.value);
}

/** Retries a step a just-deleted or just-created topic can fail (metadata still settling), up to 30 s. */
async function settled<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

describe('lag monitor staleness', () => {
  it('drops the DLT-age series of a deleted DLT and measures a recreated DLT afresh', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'lag-dlt' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 0, partitions: 1 });
    const dlt = deadLetterTopicOf(topic, groupId);
    onTestFinished(() => admin.deleteTopics({ topics: [dlt] }).catch(() => undefined));
    await produce(dlt, [{ key: 'k', value: 'old', timestamp: String(Date.now() - 3_600_000) }]);

    const metrics = new OrderlyMetrics({ processMetrics: false });
    const monitor = new LagMonitor({ kafka: kafka(), groupId, topics: [topic], metrics });
    onTestFinished(() => monitor.stop());
    await monitor.poll();
    const [age] = await ageSeries(metrics, groupId);
    expect(age).toBeGreaterThan(3_500);

    await admin.deleteTopics({ topics: [dlt] });
    for (let tries = 0; (await admin.listTopics()).includes(dlt) && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 200));
    await settled(() => monitor.poll());
    expect(await ageSeries(metrics, groupId)).toEqual([]);

    await ensureTopicLayout(admin, { topic, groupId, tierCount: 0, partitions: 1 });
    await settled(() => produce(dlt, [{ key: 'k', value: 'new' }]));
    await settled(() => monitor.poll());
    const [fresh] = await ageSeries(metrics, groupId);
    expect(fresh).toBeLessThan(120);
  });

  it('is not ready before a lag poll has succeeded, when every poll fails', async () => {
    const monitor = new LagMonitor({ kafka: { brokers: ['127.0.0.1:1'], clientId: 'lag-unreachable', connectionTimeoutMs: 300 }, groupId: testGroupId(), topics: ['nowhere'], metrics: null, intervalMs: 100 });
    onTestFinished(() => monitor.stop());
    await monitor.start();
    const { ready, reasons } = monitor.readiness();
    expect(ready).toBe(false);
    expect(reasons.join('\n')).toMatch(/no lag poll has succeeded/);
  });

  it('turns not ready when polls keep failing past staleAfterMs, and ready again when one succeeds', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'lag-stale' });
    const groupId = testGroupId();
    const monitor = new LagMonitor({ kafka: kafka(), groupId, topics: [topic], metrics: null, intervalMs: 100, staleAfterMs: 1_000 });
    onTestFinished(() => monitor.stop());
    await monitor.start();
    expect(monitor.readiness()).toEqual({ ready: true, reasons: [] });

    // Every poll fails from here on (as with the broker unreachable); the admin client is replaced after each.
    const failing = vi.spyOn(monitor as unknown as { measure: () => Promise<unknown> }, 'measure').mockRejectedValue(new Error('broker unavailable'));
    await eventually(() => !monitor.readiness().ready, () => JSON.stringify(monitor.readiness()), 10_000);
    expect(monitor.readiness().reasons.join('\n')).toMatch(/last successful lag poll was \d+ s ago.*broker unavailable/s);
    expect(failing.mock.calls.length).toBeGreaterThan(3);

    failing.mockRestore();
    await eventually(() => monitor.readiness().ready, () => JSON.stringify(monitor.readiness()), 10_000);
  });
});
