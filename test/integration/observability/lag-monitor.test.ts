/**
 * Lag from the admin API: still reported while the consumer has paused its partitions (backpressure), a
 * partition with lag and no commit turns stuck (an error line, `/readyz` fails) and recovers, and
 * `orderly lag` prints the same figures as a table and as JSON.
 */
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTopicLayout } from '../../../consumers/retries/topic-layout.ts';
import { LagMonitor } from '../../../observability/lag-monitor.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';

const run = promisify(execFile);

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function lagCli(groupId: string, topic: string, json: boolean): Promise<string> {
  const args = ['cli/bin.ts', 'lag', '--group', groupId, '--topic', topic, ...(json ? ['--json'] : [])];
  const { stdout } = await run(process.execPath, args, { cwd: projectRoot, env: { ...process.env, KAFKA_BROKERS: testStack().settings.KAFKA_BROKERS } });
  return stdout;
}

describe('lag monitor', () => {
  it('reports lag while partitions are paused, flags a stuck partition, and agrees with `orderly lag`', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'lag' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 0 });
    const events = sequencedEvents(60, 60);
    await produce(topic, events);
    const produced = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    const producedIn = new Map(produced.map(({ partition, high }) => [partition, Number(high)]));

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const consumer = startTestConsumer({
      groupId,
      topics: [topic],
      partitionHighWatermarkRecords: 5,
      partitionLowWatermarkRecords: 2,
      handler: () => released,
    });
    const paused = new Set<number>();
    consumer.events.on('consumer.partition.paused', ({ partition }) => paused.add(partition));
    await consumer.start();
    await eventually(() => paused.size === 2, () => `paused partitions: ${[...paused].join(', ')}`, 60_000);

    const metrics = new OrderlyMetrics({ processMetrics: false });
    const { logger, lines } = capturedLogger();
    const kafka = { brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId: 'lag-test-monitor' };
    const monitor = new LagMonitor({ kafka, groupId, topics: [topic], stuckAfterMs: 1, metrics, logger });
    onTestFinished(() => monitor.stop());

    const first = await monitor.poll();
    expect(first.members).toBe(1);
    const sources = first.partitions.filter((partition) => partition.tier === 'source');
    expect(sources.map(({ partition, lag, committedOffset }) => ({ partition, lag, committedOffset }))).toEqual(
      [...producedIn].map(([partition, high]) => ({ partition, lag: high, committedOffset: expect.toSatisfy((offset) => offset === null || offset === '0') })),
    );
    expect(first.partitions.filter((partition) => partition.tier === 'dlt').map(({ lag }) => lag)).toEqual([0, 0]);
    expect(consumer.stats().pausedPartitions).toBe(2);

    // Printed by the CLI, in another process, while the consumer is still paused.
    const json = JSON.parse(await lagCli(groupId, topic, true)) as { members: number; partitions: { tier: string; partition: number; lag: number }[] };
    expect(json.members).toBe(1);
    expect(json.partitions.filter((p) => p.tier === 'source').map(({ partition, lag }) => [partition, lag])).toEqual([...producedIn]);
    const table = await lagCli(groupId, topic, false);
    expect(table).toContain(`group ${groupId}: 1 member(s)`);
    expect(table).toMatch(/TOPIC\s+TIER\s+PARTITION\s+COMMITTED\s+END\s+LAG/);
    expect(table).toContain(`total: source lag 60, dlt records 0`);

    // Second look with nothing committed: stuck, logged once at error level, and not ready.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await monitor.poll();
    expect(second.partitions.filter((p) => p.tier === 'source').every((p) => p.stuck)).toBe(true);
    expect(monitor.readiness().ready).toBe(false);
    expect(monitor.readiness().reasons.join('\n')).toContain(`${topic}[0] has lag`);
    const stuckLines = lines.filter((line) => line.status === 'stuck');
    expect(stuckLines.map((line) => [line.level, line.topic, line.partition, typeof line.offset])).toEqual([
      [50, topic, 0, 'string'],
      [50, topic, 1, 'string'],
    ]);
    const scraped = await metrics.registry.getSingleMetricAsString('orderly_partition_stuck');
    expect(scraped).toContain(`orderly_partition_stuck{group="${groupId}",topic="${topic}",tier="source",partition="0"} 1`);

    release();
    const deadline = Date.now() + 60_000;
    while ((await monitor.poll()).partitions.some((p) => p.lag > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const drained = await monitor.poll();
    expect(drained.partitions.map(({ lag, stuck }) => ({ lag, stuck }))).toEqual(drained.partitions.map(() => ({ lag: 0, stuck: false })));
    expect(monitor.readiness()).toEqual({ ready: true, reasons: [] });
    // With a 1 ms threshold a draining partition may flap; its last word is that it moves again.
    const lastStatusOf = (partition: number) => lines.filter((line) => line.partition === partition && (line.status === 'stuck' || line.status === 'moving')).at(-1)?.status;
    expect([lastStatusOf(0), lastStatusOf(1)]).toEqual(['moving', 'moving']);
  });
});
