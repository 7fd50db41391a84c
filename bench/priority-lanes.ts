/**
 * Issue 7: end-to-end latency of high-priority events while a low-priority backlog of slow events drains, and
 * handler throughput under a 2x overload against an unpressured run. Not part of npm test.
 * Arms (same run, fresh groups and topics each):
 * - `lanes`: `lanes: [{ high }, { low, concurrency: 8 }]`, the low lane pauses while the high one has a backlog;
 * - `fifo`: both topics in `topics`, no lanes: what the same consumer does without priorities.
 * - overload: handler capacity ~1,000/s (concurrency 10 x 10 ms); `unpressured` drains a pre-filled topic,
 *   `overloaded` runs while a producer adds 2,000/s; the ratio is handled/s overloaded over unpressured.
 * Run: `npm run bench:priority` (BENCH_LOW_EVENTS, BENCH_SECONDS). Writes bench/results/priority-lanes.json and
 * bench/results/overload.json.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { createKafkaClient, type Message } from '../core/kafka-client.ts';
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import type { OrderedConsumerOptions } from '../consumers/options.ts';
import { defaultStackDir } from '../infra/stack/stack-paths.ts';
import { readSettings } from '../infra/stack/stack-settings.ts';

const lowEvents = Number(process.env.BENCH_LOW_EVENTS ?? 100_000);
const overloadSeconds = Number(process.env.BENCH_SECONDS ?? 20);
const brokers = (process.env.KAFKA_BROKERS ?? readSettings(defaultStackDir())?.KAFKA_BROKERS ?? '').split(',');
if (!brokers[0]) throw new Error('no KAFKA_BROKERS: run `npx orderly stack up`');
const kafka = createKafkaClient({ brokers, clientId: 'bench-priority' });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = Date.now().toString(36);

async function topic(name: string, partitions: number): Promise<string> {
  const full = `bench-${name}-${run}`;
  await admin.createTopics({ topics: [{ topic: full, numPartitions: partitions }], waitForLeaders: true });
  return full;
}

async function fill(name: string, count: number, keys: number): Promise<void> {
  for (let start = 0; start < count; start += 5_000) {
    const messages: Message[] = Array.from({ length: Math.min(5_000, count - start) }, (_, index) => ({ key: `k${(start + index) % keys}`, value: 'x'.repeat(100) }));
    await producer.send({ topic: name, acks: -1, messages });
  }
}

function consumer(options: Omit<OrderedConsumerOptions<Buffer | null>, 'kafka'>): OrderedConsumer {
  return new OrderedConsumer({ kafka: { brokers, clientId: 'bench' }, retryTiersMs: [], commitIntervalMs: 500, ...options });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Latency of high events (50/s, 1 ms handler) while `lowEvents` slow events (5 ms) drain. */
async function priorityArm(arm: 'lanes' | 'fifo') {
  const high = await topic(`high-${arm}`, 2);
  const low = await topic(`low-${arm}`, 4);
  await fill(low, lowEvents, 1_000);
  const latencies: number[] = [];
  let lowHandled = 0;
  const member = consumer({
    groupId: `bench-priority-${arm}-${run}`,
    ...(arm === 'lanes' ? { lanes: [{ topic: high, priority: 'high' as const }, { topic: low, priority: 'low' as const, concurrency: 8 }], priorityBacklogRecords: 10 } : { topics: [high, low] }),
    concurrency: 16,
    handler: async ({ topic: from, headers }) => {
      if (from === low) {
        await sleep(5);
        lowHandled++;
      } else {
        await sleep(1);
        latencies.push(Date.now() - Number(headers['bench-sent-at']));
      }
    },
  });
  await member.start();
  const startedAt = Date.now();
  let sent = 0;
  while (lowHandled < lowEvents * 0.9 && Date.now() - startedAt < 600_000) {
    await producer.send({ topic: high, acks: -1, messages: Array.from({ length: 5 }, () => ({ key: `h${sent++ % 50}`, value: 'high', headers: { 'bench-sent-at': String(Date.now()) } })) });
    await sleep(100);
  }
  while (latencies.length < sent && Date.now() - startedAt < 660_000) await sleep(50);
  const drainSeconds = (Date.now() - startedAt) / 1000;
  await member.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { arm, highEvents: sorted.length, lowHandled, drainSeconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) };
}

/** Handled per second: a pre-filled topic drained (`unpressured`) or while 2,000/s more arrive (`overloaded`). */
async function overloadArm(arm: 'unpressured' | 'overloaded') {
  const name = await topic(`overload-${arm}`, 6);
  if (arm === 'unpressured') await fill(name, 40_000, 1_000);
  let handled = 0;
  const member = consumer({
    groupId: `bench-overload-${arm}-${run}`,
    topics: [name],
    concurrency: 10,
    partitionHighWatermarkRecords: 500,
    memberHighWatermarkRecords: 2_000,
    handler: async () => {
      await sleep(10);
      handled++;
    },
  });
  await member.start();
  let producing = arm === 'overloaded';
  const pump = (async () => {
    while (producing) {
      await producer.send({ topic: name, acks: -1, messages: Array.from({ length: 200 }, (_, index) => ({ key: `k${index}`, value: 'x'.repeat(100) })) });
      await sleep(100);
    }
  })();
  while (handled === 0) await sleep(20);
  const from = handled;
  const startedAt = Date.now();
  await sleep(overloadSeconds * 1000);
  const perSecond = (handled - from) / ((Date.now() - startedAt) / 1000);
  producing = false;
  await pump;
  const held = member.stats().held.records;
  await member.stop();
  return { arm, perSecond: Math.round(perSecond), heldAtEnd: held };
}

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtStart: loadavg().map((value) => value.toFixed(2)) };
const priority = [await priorityArm('lanes'), await priorityArm('fifo')];
const overload: Awaited<ReturnType<typeof overloadArm>>[] = [];
for (let repetition = 0; repetition < 3; repetition++) {
  const order = repetition % 2 === 0 ? (['unpressured', 'overloaded'] as const) : (['overloaded', 'unpressured'] as const);
  for (const arm of order) overload.push(await overloadArm(arm));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const unpressured = median(overload.filter((result) => result.arm === 'unpressured').map((result) => result.perSecond));
const overloaded = median(overload.filter((result) => result.arm === 'overloaded').map((result) => result.perSecond));
const results = {
  measuredAt: new Date().toISOString(),
  machine: { ...machine, loadAverageAtEnd: loadavg().map((value) => value.toFixed(2)) },
  priority: { lowEvents, lowHandlerMs: 5, lowLaneConcurrency: 8, highPerSecond: 50, highHandlerMs: 1, concurrency: 16, arms: priority },
  overload: { handlerMs: 10, concurrency: 10, offeredPerSecond: 2_000, seconds: overloadSeconds, runs: overload, unpressuredMedian: unpressured, overloadedMedian: overloaded, ratio: Number((overloaded / unpressured).toFixed(3)), goal: 0.9 },
};
writeFileSync(new URL('./results/priority-lanes.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
await producer.disconnect();
await admin.disconnect();
