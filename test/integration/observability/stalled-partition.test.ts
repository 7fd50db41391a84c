/**
 * A stall is visible from outside the member: with one record whose handler hangs, its partition's watermark
 * stops while later records wait; after `stuckPartitionMs` the member logs one warning naming topic,
 * partition, offset and why it waits, `/metrics` shows `orderly_partition_watermark_stalled` 1 for that
 * partition only, and when the record completes the series goes and an info line says it moves again.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { createTestTopic, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';
import { scrape, sumOf } from './prometheus-text.ts';

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('a stalled partition', () => {
  it('is logged with offset and reason, shown by a gauge over /metrics, and cleared when it moves', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'stalled' });
    const groupId = testGroupId();
    await produce(topic, sequencedEvents(40, 8));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let hung: { partition: number; offset: string } | undefined;
    const { logger, lines } = capturedLogger();
    const consumer = startTestConsumer<unknown>({
      groupId,
      topics: [topic],
      logger,
      stuckPartitionMs: 1_000,
      handler: async (event) => {
        // The first record of partition 0 hangs until released; everything else completes.
        if (event.partition === 0 && (hung === undefined || (hung.offset === event.offset && hung.partition === 0))) {
          hung = { partition: 0, offset: event.offset };
          await released;
        }
      },
    });
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const instrumentation = instrumentConsumer(consumer, { groupId, metrics });
    onTestFinished(() => instrumentation.detach());
    const server = await startObservabilityServer({ port: 0, metrics, readiness: [instrumentation] });
    onTestFinished(() => server.stop());
    await consumer.start();

    const url = `http://127.0.0.1:${server.port}/metrics`;
    const stalledSeries = async (partition: number) => sumOf(await scrape(url), 'orderly_partition_watermark_stalled', { group: groupId, topic, tier: 'source', partition: String(partition) });
    let stalled = 0;
    for (const deadline = Date.now() + 30_000; stalled === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      stalled = await stalledSeries(0);
    }
    expect(stalled).toBe(1);
    expect(await stalledSeries(1)).toBe(0);
    expect(consumer.stats().stalledPartitions).toBe(1);
    const warnings = lines.filter((line) => line.status === 'stalled');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, topic, partition: 0, offset: hung!.offset, groupId, component: 'ordered-consumer' });
    expect(warnings[0]!.reason).toBe('in flight: its handler, or one of its idempotency, parking or forward steps, has not finished');
    expect(warnings[0]!.waiting).toBeGreaterThan(1);

    release();
    await eventually(() => consumer.stats().stalledPartitions === 0, () => `stalled ${consumer.stats().stalledPartitions}`, 30_000);
    expect(await stalledSeries(0)).toBe(0);
    expect(lines.filter((line) => line.status === 'moving').map((line) => [line.level, line.partition])).toEqual([[30, 0]]);
  });
});
