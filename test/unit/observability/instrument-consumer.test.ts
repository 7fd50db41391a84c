/** instrumentConsumer against a fake consumer: each event lands in its metric with the right labels. */
import { describe, expect, it } from 'vitest';
import { ConsumerEventEmitter } from '../../../consumers/events.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';

function fakeConsumer() {
  return {
    events: new ConsumerEventEmitter(),
    stats: () => ({ inFlight: 3, queued: 7, pausedPartitions: 1, gatedPartitions: 2 }),
    parkedKeys: async () => 4,
  };
}

async function valueOf(metrics: OrderlyMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const { values } = await metric!.get();
  return values.filter((value) => Object.entries(labels).every(([label, wanted]) => String(value.labels[label]) === wanted)).reduce((sum, value) => sum + value.value, 0);
}

describe('instrumentConsumer', () => {
  const group = 'payments';
  const tierTopic = 'orders.payments.retry.1';

  it('labels records from a tier with their source topic and tier; dead letters by reason', async () => {
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const consumer = fakeConsumer();
    instrumentConsumer(consumer, { groupId: group, metrics });
    for (const [topic, offset] of [['orders', '5'], [tierTopic, '1'], [tierTopic, '2'], ['orders', '9']] as const) {
      consumer.events.emit('consumer.record.received', { topic, partition: 0, offset });
    }
    consumer.events.emit('consumer.record.handled', { topic: 'orders', partition: 0, offset: '5', durationMs: 20, attempt: 1 });
    consumer.events.emit('consumer.record.handled', { topic: tierTopic, partition: 0, offset: '1', durationMs: 40, attempt: 2 });
    consumer.events.emit('consumer.record.dead-lettered', { topic: tierTopic, partition: 0, offset: '2', reason: 'retries-exhausted' });
    consumer.events.emit('consumer.record.skipped-duplicate', { topic: 'orders', partition: 1, offset: '9' });
    consumer.events.emit('consumer.commit.failed', { errorType: 'KafkaJSError' });
    consumer.events.emit('consumer.group.rebalancing', { groupId: group });
    expect(await valueOf(metrics, 'orderly_records_handled_total', { group, topic: 'orders', tier: 'source' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_handled_total', { group, topic: 'orders', tier: '1' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_dead_lettered_total', { group, topic: 'orders', reason: 'retries-exhausted' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_skipped_duplicate_total', { group, topic: 'orders' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_consumed_total', { group, topic: 'orders' })).toBe(4);
    expect(await valueOf(metrics, 'orderly_commit_failures_total', { group })).toBe(1);
    expect(await valueOf(metrics, 'orderly_rebalances_total', { group })).toBe(1);
    const text = await metrics.exposition();
    expect(text).toContain(`orderly_handler_duration_seconds_bucket{le="0.025",group="${group}",topic="orders",tier="source"} 1`);
    expect(text).toContain(`orderly_handler_duration_seconds_sum{group="${group}",topic="orders",tier="1"} 0.04`);
    expect(text).not.toMatch(/key=|event_id|eventId/);
  });

  it('counts retries per tier from the consumer.record.retried event, and failures per topic', async () => {
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const consumer = fakeConsumer();
    instrumentConsumer(consumer, { groupId: group, metrics });
    consumer.events.emit('consumer.record.failed', { topic: 'orders', partition: 0, offset: '10', attempt: 1, errorType: 'Error', willRetry: false });
    consumer.events.emit('consumer.record.retried', { topic: 'orders', partition: 0, offset: '10', tier: 1 });
    consumer.events.emit('consumer.record.failed', { topic: tierTopic, partition: 0, offset: '0', attempt: 2, errorType: 'Error', willRetry: false });
    consumer.events.emit('consumer.record.retried', { topic: tierTopic, partition: 0, offset: '0', tier: 2 });
    expect(await valueOf(metrics, 'orderly_records_retried_total', { group, topic: 'orders', tier: '1' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_retried_total', { group, topic: 'orders', tier: '2' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_failed_total', { group, topic: 'orders', tier: 'source' })).toBe(1);
    expect(await valueOf(metrics, 'orderly_records_failed_total', { group, topic: 'orders', tier: '1' })).toBe(1);
  });

  it('is not ready while a partition is stopped at a record the broker rejects even as a DLT stub', async () => {
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const consumer = fakeConsumer();
    const instrumentation = instrumentConsumer(consumer, { groupId: group, metrics });
    consumer.events.emit('consumer.group.joined', { groupId: group, epoch: 1, assignment: {} });
    consumer.events.emit('consumer.forward.failed', { topic: 'orders', partition: 2, offset: '7', errorType: 'MESSAGE_TOO_LARGE' });
    consumer.events.emit('consumer.forward.stuck', { topic: 'orders', partition: 2, offset: '7', errorType: 'MESSAGE_TOO_LARGE' });
    expect(instrumentation.readiness()).toMatchObject({ ready: false, reasons: [expect.stringContaining('orders[2]')] });
    expect(await valueOf(metrics, 'orderly_forward_failures_total', { group, topic: 'orders' })).toBe(1);
    consumer.events.emit('consumer.forward.recovered', { topic: 'orders', partition: 2, offset: '7' });
    expect(instrumentation.readiness().ready).toBe(true);
  });

  it('reads the gauges from the consumer at scrape time, and readiness follows the group membership', async () => {
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const consumer = fakeConsumer();
    const instrumentation = instrumentConsumer(consumer, { groupId: group, metrics });
    expect(instrumentation.readiness()).toEqual({ ready: false, reasons: [`group ${group}: not joined yet`] });
    consumer.events.emit('consumer.group.joined', { groupId: group, epoch: 1, assignment: {} });
    expect(instrumentation.readiness().ready).toBe(true);
    expect(await valueOf(metrics, 'orderly_handlers_in_flight', { group })).toBe(3);
    expect(await valueOf(metrics, 'orderly_parked_keys', { group })).toBe(4);
    expect(await valueOf(metrics, 'orderly_partitions_gated', { group })).toBe(2);
    expect(await valueOf(metrics, 'orderly_group_joined', { group })).toBe(1);
    instrumentation.detach();
    expect(instrumentation.readiness().ready).toBe(false);
    consumer.events.emit('consumer.record.handled', { topic: 'orders', partition: 0, offset: '1', durationMs: 1, attempt: 1 });
    expect(await valueOf(metrics, 'orderly_records_handled_total', { group })).toBe(0);
    expect(await valueOf(metrics, 'orderly_handlers_in_flight', { group })).toBe(0);
  });

  it('refuses bad options in one ConfigurationError', () => {
    expect(() => instrumentConsumer(fakeConsumer(), { groupId: '', metrics: {} as OrderlyMetrics })).toThrow(/groupId: must name the consumer group[\s\S]*metrics: must be an OrderlyMetrics/);
  });
});
