/**
 * Issue 7: end-to-end latency of high-priority events while a low-priority backlog of slow events drains, and
 * handler throughput under a 2x overload against an unpressured run. Not part of npm test.
 * Arms (same run, fresh groups and topics each):
 * - `lanes`: `lanes: [{ high }, { low, concurrency: 8 }]`, the low lane pauses while the high one has a backlog;
 * - `fifo`: both topics in `topics`, no lanes: what the same consumer does without priorities.
 * - overload: handler capacity ~1,000/s (concurrency 10 x 10 ms); `unpressured` drains a pre-filled topic,
 *   `overloaded` runs while a producer adds 2,000/s; the ratio is handled/s overloaded over unpressured.
 * Run: `npm run bench:priority` or `npm run bench -- priority-lanes` (BENCH_LOW_EVENTS, BENCH_SECONDS). Writes
 * bench/results/priority-lanes.json and its section of bench/RESULTS.md.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { createKafkaClient, type Message } from '../core/kafka-client.ts';
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import type { OrderedConsumerOptions } from '../consumers/options.ts';
import { defaultStackDir } from '../infra/stack/stack-paths.ts';
import { readSettings } from '../infra/stack/stack-settings.ts';
import { writeResults } from './support/bench-kit.ts';

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
  ratio: Number((overloaded / unpressured).toFixed(3)),
  goal: 0.9,
};
const lanesArm = priority.find((arm) => arm.arm === 'lanes')!;
const loads = (at: string[]) => at.join(', ');
writeResults('priority-lanes', results, [
  '## Priority lanes and the 2x overload (`npm run bench -- priority-lanes`, issue 7)',
  '',
  `${machine.cpus} cores (${machine.cpuModel?.trim() ?? 'unknown'}), ${machine.memoryGiB} GB, shared; Node ${process.version}; Kafka 4.2.1, one KRaft node on loopback (the local stack). Load average at the start ${loads(machine.loadAverageAtStart)}, at the end ${loads(results.machine.loadAverageAtEnd)}. Measured ${results.measuredAt.slice(0, 10)}.`,
  '',
  `**Priority.** ${lowEvents} low-priority events (5 ms handler, 1,000 keys, 4 partitions) pre-filled, then 50 high-priority events/s (1 ms handler, 50 keys, 2 partitions) until 90% of the backlog is handled; end-to-end latency of each high event from its send. Member concurrency 16. \`lanes\`: \`lanes: [{ high }, { low, concurrency: 8 }]\`, \`priorityBacklogRecords: 10\`; \`fifo\`: the same topics in \`topics\`, no lanes.`,
  '',
  '| arm | high events | low handled | seconds | high p50 ms | high p99 ms | high max ms |',
  '|---|---|---|---|---|---|---|',
  ...priority.map((arm) => `| ${arm.arm} | ${arm.highEvents} | ${arm.lowHandled} | ${arm.drainSeconds.toFixed(1)} | ${arm.p50Ms} | ${arm.p99Ms} | ${arm.maxMs} |`),
  '',
  `**High-priority p99 while the low backlog drains: ${lanesArm.p99Ms} ms** (lanes arm). The \`fifo\` arm is shown beside it: the low lane's own concurrency cap (8 of 16) makes the backlog drain slower with lanes, by design.`,
  '',
  `**Overload.** Handler capacity ~1,000/s (concurrency 10 × a 10 ms handler), partition high-water mark 500 records, member 2,000. \`unpressured\`: a pre-filled topic (40,000 events) drains; \`overloaded\`: a producer adds 2,000/s (2x capacity) the whole time. Handled per second over ${overloadSeconds} s, 3 repetitions each, interleaved.`,
  '',
  '| arm | handled/s per run | median | records held at the end per run |',
  '|---|---|---|---|',
  ...(['unpressured', 'overloaded'] as const).map((arm) => {
    const runs = overload.filter((result) => result.arm === arm);
    return `| ${arm} | ${runs.map((result) => result.perSecond).join(', ')} | ${arm === 'unpressured' ? unpressured : overloaded} | ${runs.map((result) => result.heldAtEnd).join(', ')} |`;
  }),
  '',
  `**Overloaded / unpressured throughput: ${results.ratio}x** (goal ≥ 0.9x: ${results.ratio >= 0.9 ? 'met' : 'missed'}).`,
]);
await producer.disconnect();
await admin.disconnect();
