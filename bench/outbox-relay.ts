/**
 * Outbox relay throughput beside EventProducer direct, the same 1 KB Avro events in the same run, arms
 * interleaved in rotating order over several repetitions; then the outbox's commit-to-publish latency.
 * Arms:
 * - `event-producer-direct`: EventProducer.publishBatch in batches of 500, each awaited (what a service does
 *   without an outbox).
 * - `outbox-relay`: the same events already committed to the outbox (written before the clock starts); an
 *   OutboxRelay (concurrency 2, batches of 500) publishes them through an EventProducer with the same
 *   settings; the clock runs from the relay's start to the last row marked sent.
 * Latency: writers commit events at a steady rate below capacity while a relay runs; per event, the time from
 * the writer's COMMIT returning to the relay's claim committing after the broker's acknowledgement.
 * Run: `npm run bench:outbox` (not part of npm test). Writes bench/results/outbox-relay.json and the outbox
 * section of bench/RESULTS.md.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { createKafkaClient } from '../core/kafka-client.ts';
import { defaultStackDir } from '../infra/stack/stack-paths.ts';
import { readSettings } from '../infra/stack/stack-settings.ts';
import { OutboxRelay } from '../outbox/outbox-relay.ts';
import { createOutboxTables, outboxTableNames } from '../outbox/outbox-table.ts';
import { OutboxWriter, type OutboxEntry } from '../outbox/outbox-writer.ts';
import { EventProducer } from '../producers/event-producer.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { benchEventType, benchMemo } from './support/bench-schema.ts';

const loadAtStart = loadavg().map((value) => Number(value.toFixed(2)));
const eventsPerRun = Number(process.env.BENCH_EVENTS ?? 20_000);
const batchSize = 500;
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const relayConcurrency = Number(process.env.BENCH_RELAY_CONCURRENCY ?? 2);
const latencyEvents = Number(process.env.BENCH_LATENCY_EVENTS ?? 10_000);
const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 1_000);
const partitions = 6;
const goal = 0.8;

const settings = {
  ...readSettings(defaultStackDir()),
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL'].includes(name))),
} as Record<string, string | undefined>;
if (!settings.KAFKA_BROKERS || !settings.SCHEMA_REGISTRY_URL || !settings.DATABASE_URL) throw new Error('no stack settings: run `npx orderly stack up`');
const database = settings.DATABASE_URL;

const type = benchEventType;
const valueOf = (index: number) => ({ accountId: `account-${index % 1000}`, sequence: index, amountMinor: 1234, currency: 'EUR', memo: benchMemo });
const valueBytes = type.toBuffer(valueOf(123_456)).length + 5;

const kafka = createKafkaClient({ brokers: settings.KAFKA_BROKERS.split(','), clientId: 'bench-outbox' });
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL });
const topic = `bench-outbox-${Date.now().toString(36)}`;
const table = `bench_outbox_${Date.now().toString(36)}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
const pool = new pg.Pool({ connectionString: database, max: relayConcurrency + 6 });
{
  const client = await pool.connect();
  await createOutboxTables(client, table);
  client.release();
}
const producer = new EventProducer({ kafka, registry, topic, autoRegister: true, maxInFlight: 1_000 });
await producer.connect();
const writer = new OutboxWriter({ registry, table, autoRegister: true });

const entry = (index: number): OutboxEntry => ({ topic, key: `account-${index % 1000}`, schema: type, event: valueOf(index) });

/** Commits `events` events to the outbox, `batchSize` per transaction (not timed). */
async function fillOutbox(events: number): Promise<void> {
  for (let start = 0; start < events; start += batchSize) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await writer.addAll(client, Array.from({ length: Math.min(batchSize, events - start) }, (_, offset) => entry(start + offset)));
      await client.query('commit');
    } finally {
      client.release();
    }
  }
}

type Arm = 'event-producer-direct' | 'outbox-relay';
const arms: Arm[] = ['event-producer-direct', 'outbox-relay'];

async function runArm(arm: Arm, events: number): Promise<number> {
  if (arm === 'event-producer-direct') {
    const startedAt = performance.now();
    for (let start = 0; start < events; start += batchSize) {
      await producer.publishBatch(Array.from({ length: Math.min(batchSize, events - start) }, (_, offset) => ({ key: `account-${(start + offset) % 1000}`, schema: type, value: valueOf(start + offset) })));
    }
    return (events * 1000) / (performance.now() - startedAt);
  }
  await fillOutbox(events);
  let published = 0;
  let done!: () => void;
  const drained = new Promise<void>((resolve) => (done = resolve));
  const relay = new OutboxRelay({
    pool,
    producer,
    kafka,
    table,
    concurrency: relayConcurrency,
    batchSize,
    listenConnectionString: database,
    onPublished: (relayed) => {
      published += relayed.length;
      if (published >= events) done();
    },
  });
  const startedAt = performance.now();
  await relay.start();
  await drained;
  const rate = (events * 1000) / (performance.now() - startedAt);
  await relay.stop();
  return rate;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const percentile = (sorted: number[], share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;

for (const arm of arms) await runArm(arm, 2_000); // warm-up: JIT, connections, metadata, schema ids
const rates: Record<Arm, number[]> = { 'event-producer-direct': [], 'outbox-relay': [] };
/** The 1-minute load average as each run started: the machine is shared, and its load moves within minutes. */
const loads: Record<Arm, number[]> = { 'event-producer-direct': [], 'outbox-relay': [] };
for (let repetition = 0; repetition < repetitions; repetition++) {
  const order = arms.map((_, index) => arms[(index + repetition) % arms.length]!);
  for (const arm of order) {
    loads[arm].push(Number(loadavg()[0]!.toFixed(2)));
    const rate = await runArm(arm, eventsPerRun);
    rates[arm].push(rate);
    console.log(`repetition ${repetition + 1} ${arm.padEnd(22)} ${rate.toFixed(0)} events/s (load ${loads[arm].at(-1)})`);
  }
}

// Commit-to-publish latency: steady writers (transactions of 10 events) with a relay running.
const committedAt = new Map<string, number>();
const latencies: number[] = [];
let latencyDone!: () => void;
const latencyDrained = new Promise<void>((resolve) => (latencyDone = resolve));
const relay = new OutboxRelay({
  pool,
  producer,
  kafka,
  table,
  concurrency: relayConcurrency,
  batchSize,
  listenConnectionString: database,
  onPublished: (relayed) => {
    const now = performance.now();
    for (const event of relayed) {
      const at = committedAt.get(event.eventId);
      if (at !== undefined) latencies.push(now - at);
    }
    if (latencies.length >= latencyEvents) latencyDone();
  },
});
await relay.start();
const perTransaction = 10;
const startedAt = performance.now();
for (let index = 0; index < latencyEvents; index += perTransaction) {
  const due = startedAt + (index * 1000) / latencyRate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const client = await pool.connect();
  try {
    await client.query('begin');
    const receipts = await writer.addAll(client, Array.from({ length: perTransaction }, (_, offset) => entry(index + offset)));
    await client.query('commit');
    const now = performance.now();
    for (const { eventId } of receipts) committedAt.set(eventId, now);
  } finally {
    client.release();
  }
}
await Promise.race([latencyDrained, new Promise((resolve) => setTimeout(resolve, 60_000))]);
await relay.stop();
latencies.sort((left, right) => left - right);

await producer.close();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
const names = outboxTableNames(table);
await pool.query(`drop table if exists ${names.table}, ${names.shards}`);
await pool.query(`drop function if exists ${names.notifyFunction}()`);
await pool.end();
await fetch(`${registry.url}/subjects/${topic}-value`, { method: 'DELETE' }).catch(() => undefined);
await fetch(`${registry.url}/subjects/${topic}-value?permanent=true`, { method: 'DELETE' }).catch(() => undefined);

const summary = Object.fromEntries(
  arms.map((arm) => [arm, { medianEventsPerSecond: Math.round(median(rates[arm])), minEventsPerSecond: Math.round(Math.min(...rates[arm])), maxEventsPerSecond: Math.round(Math.max(...rates[arm])), runs: rates[arm].map(Math.round), loadAtRunStart: loads[arm] }]),
) as Record<Arm, { medianEventsPerSecond: number; minEventsPerSecond: number; maxEventsPerSecond: number; runs: number[]; loadAtRunStart: number[] }>;
const ratio = summary['outbox-relay'].medianEventsPerSecond / summary['event-producer-direct'].medianEventsPerSecond;
const pairedRatios = rates['outbox-relay'].map((rate, index) => rate / rates['event-producer-direct'][index]!);
const latency = {
  events: latencies.length,
  ratePerSecond: latencyRate,
  p50Ms: Number(percentile(latencies, 0.5).toFixed(1)),
  p90Ms: Number(percentile(latencies, 0.9).toFixed(1)),
  p99Ms: Number(percentile(latencies, 0.99).toFixed(1)),
  maxMs: Number((latencies.at(-1) ?? 0).toFixed(1)),
};
const versions = (name: string) => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
const setup = {
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB`,
  loadAverageAtStart: loadAtStart,
  loadAverageAtEnd: loadavg().map((value) => Number(value.toFixed(2))),
  node: process.version,
  kafkajs: versions('kafkajs'),
  pg: versions('pg'),
  stack: 'the shared local stack: Kafka (one KRaft node), Apicurio, PostgreSQL, all on loopback',
  eventsPerRun,
  batchSize,
  relayConcurrency,
  repetitions,
  partitions,
  valueBytes,
  producerSettings: 'EventProducer defaults: idempotent, acks=all, maxInFlightRequests 1, no compression',
};
const result = {
  date: new Date().toISOString(),
  setup,
  arms: summary,
  ratio: Number(ratio.toFixed(3)),
  pairedRatioMedian: Number(median(pairedRatios).toFixed(3)),
  pairedRatioSpread: [Number(Math.min(...pairedRatios).toFixed(3)), Number(Math.max(...pairedRatios).toFixed(3))],
  commitToPublishLatency: latency,
  goal,
  met: ratio >= goal,
};
writeFileSync('bench/results/outbox-relay.json', `${JSON.stringify(result, null, 2)}\n`);

const rows = arms.map((arm) => {
  const { medianEventsPerSecond, minEventsPerSecond, maxEventsPerSecond } = summary[arm];
  return `| ${arm} | ${medianEventsPerSecond} | ${minEventsPerSecond}–${maxEventsPerSecond} |`;
});
const section = [
  '<!-- outbox-relay:start -->',
  '## Outbox relay throughput and latency (`npm run bench:outbox`)',
  '',
  `${setup.machine}, load average ${setup.loadAverageAtStart.join(' ')} at the start and ${setup.loadAverageAtEnd.join(' ')} at the end${Math.max(...setup.loadAverageAtStart, ...setup.loadAverageAtEnd) > 2 ? ' (loaded: other work ran beside it)' : ''}; Node ${setup.node}; kafkajs ${setup.kafkajs}; pg ${setup.pg}; ${setup.stack}.`,
  `${eventsPerRun} events of ${valueBytes} bytes per run over 1000 keys, ${partitions} partitions, batches of ${batchSize}, ${repetitions} repetitions, arms interleaved in rotating order after a warm-up; ${setup.producerSettings}. The relay arm publishes rows committed before its clock starts, with ${relayConcurrency} claims at once. Measured ${result.date.slice(0, 10)}.`,
  '',
  '| arm | median events/s | spread (min–max) |',
  '|---|---|---|',
  ...rows,
  '',
  `**Ratio outbox relay / EventProducer direct: ${result.ratio}** (goal ${goal}: ${result.met ? 'met' : 'missed'}); paired per repetition: median ${result.pairedRatioMedian}, spread ${result.pairedRatioSpread.join('–')} (1-minute load at the start of each relay run: ${loads['outbox-relay'].join(', ')}; of each direct run: ${loads['event-producer-direct'].join(', ')}).`,
  '',
  `Commit-to-publish latency (writers committing ${latencyRate} events/s in transactions of ${perTransaction}, one relay running, LISTEN/NOTIFY wake-up; from the writer's COMMIT returning to the relay's claim committing after the broker's acknowledgement), ${latency.events} events: p50 ${latency.p50Ms} ms, p90 ${latency.p90Ms} ms, **p99 ${latency.p99Ms} ms**, max ${latency.maxMs} ms.`,
  '<!-- outbox-relay:end -->',
].join('\n');
const resultsFile = 'bench/RESULTS.md';
const previous = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
const markers = /<!-- outbox-relay:start -->[\s\S]*<!-- outbox-relay:end -->/;
writeFileSync(resultsFile, markers.test(previous) ? previous.replace(markers, section) : `${previous.trimEnd()}\n\n${section}\n`);
console.log(section);
