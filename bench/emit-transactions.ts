/**
 * What `transactional: true` costs a step that emits: one member (12 partitions, 500 keys, concurrency 64, one
 * emit per source event) in three arms, interleaved in one run: **emit** (emits acknowledged one by one, batched;
 * the offsets committed apart), **transactional-100** and **transactional-1000** (the emits and the offsets in one
 * transaction per shard, every `commitIntervalMs` = 100 ms, and 1000 ms, the default). Downstream, a raw kafkajs
 * consumer reads the emits with `read_committed`, as a consumer that relies on the transactions must.
 *
 * Per arm and repetition:
 * - throughput: N events prefilled; events/s from the member's join to the last emit visible downstream;
 * - latency: the member running, sources produced at a steady rate (BENCH_EMIT_TX_RATE/s for BENCH_EMIT_TX_SECONDS);
 *   per event, from the source record's timestamp (set by the producing client) to its emit read downstream;
 *   p50, p90, p99;
 * - the same with slow handlers: one source in 200 (0.5%) takes 1 s. Without transactions only that event and
 *   the next ones of its key wait for it; with them, every later event of its partition does (a partition commits
 *   its contiguous watermark).
 * Emits read twice (by id) are counted too (none expected: no faults here).
 *
 * Run: `npm run bench:emit-tx` (BENCH_EMIT_TX_EVENTS, default 20000; BENCH_EMIT_TX_REPETITIONS, default 3).
 */
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import type { Kafka, KafkaMessage } from '../core/kafka-client.ts';
import { EventProducer } from '../producers/event-producer.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { benchKafka, benchSettings, brokersOf, createBenchTopic, environment, interleave, loadNow, percentile, prefill, round, sleep, summarize, uniqueName, writeResults, type Measurement } from './support/bench-kit.ts';

const events = Number(process.env.BENCH_EMIT_TX_EVENTS ?? 20_000);
const repetitions = Number(process.env.BENCH_EMIT_TX_REPETITIONS ?? 3);
const ratePerSecond = Number(process.env.BENCH_EMIT_TX_RATE ?? 1_000);
const seconds = Number(process.env.BENCH_EMIT_TX_SECONDS ?? 10);
const partitions = 12;
const keys = 500;
const concurrency = 64;
const slowEvery = 200;
const slowMs = 1_000;
const settings = benchSettings();
const kafka = benchKafka(settings, 'bench-emit-tx');
const admin = kafka.admin();
await admin.connect();
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL! });
const followUpSchema = JSON.stringify({ type: 'record', name: 'BenchTxFollowUp', namespace: 'orderly.bench', fields: [{ name: 'key', type: 'string' }, { name: 'index', type: 'long' }] });
const topics: string[] = [];

const arms = ['emit', 'transactional-100', 'transactional-1000'] as const;
type Arm = (typeof arms)[number];
const commitIntervalOf: Record<Arm, number> = { emit: 100, 'transactional-100': 100, 'transactional-1000': 1_000 };

interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  events: number;
  duplicates: number;
  /** Transactional arms: each shard transaction's duration (start to the commit's answer), p50 and p99, in ms. */
  transactionP50: number;
  transactionP99: number;
}

const latencies: Record<'steady' | 'slow', Record<Arm, Latency[]>> = {
  steady: { emit: [], 'transactional-100': [], 'transactional-1000': [] },
  slow: { emit: [], 'transactional-100': [], 'transactional-1000': [] },
};

/** A raw kafkajs consumer reading `read_committed`: the time each emit became visible, by emit id. */
async function downstream(client: Kafka, topic: string) {
  const consumer = client.consumer({ groupId: uniqueName('bench-emit-tx-downstream'), readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map<string, number>();
  let duplicates = 0;
  const latencyMs: number[] = [];
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const message of batch.messages as KafkaMessage[]) {
        const id = String(message.headers!['orderly-event-id']);
        if (seen.has(id)) {
          duplicates++;
          continue;
        }
        seen.set(id, now);
        const producedAt = Number(String(message.headers!['bench-produced-at']));
        if (Number.isFinite(producedAt)) latencyMs.push(now - producedAt);
      }
    },
  });
  return { seen, latencyMs, duplicates: () => duplicates, stop: () => consumer.disconnect() };
}

function member(arm: Arm, source: string, target: string, producer: EventProducer, slow: boolean) {
  return new OrderedConsumer<Buffer>({
    kafka: { brokers: brokersOf(settings), clientId: uniqueName('bench-emit-tx-consumer') },
    groupId: uniqueName('bench-emit-tx-group'),
    topics: [source],
    concurrency,
    retryTiersMs: [],
    producer,
    transactional: arm !== 'emit',
    commitIntervalMs: commitIntervalOf[arm],
    handler: async (event, context) => {
      const index = Number(event.value.toString());
      if (slow && index % slowEvery === slowEvery - 1) await sleep(slowMs);
      await context.emit(target, event.key!, { schema: followUpSchema, value: { key: event.key!, index }, headers: { 'bench-produced-at': event.timestamp } });
    },
  });
}

async function waitUntil(done: () => boolean, what: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

/** A bench topic; a create that failed while waiting for leaders (seen on a loaded broker) is waited out. */
async function benchTopic(prefix: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const topic = await createBenchTopic(admin, prefix, partitions);
      topics.push(topic);
      return topic;
    } catch (error) {
      if (attempt >= 3) throw error;
      console.error(`creating a ${prefix} topic failed (${(error as Error).message}); trying again`);
      await sleep(1_000);
    }
  }
}

async function topicsFor(arm: Arm, phase: string): Promise<[string, string]> {
  return [await benchTopic(`bench-emit-tx-${arm}-${phase}`), await benchTopic(`bench-emit-tx-${arm}-${phase}-out`)];
}

async function newProducer(target: string): Promise<EventProducer> {
  const producer = new EventProducer({ kafka: benchKafka(settings, 'bench-emit-tx-producer'), registry, autoRegister: true });
  // Registered before the clock starts: the first emit would otherwise pay the registry round trip.
  await producer.publish({ topic: target, key: 'warm-up', schema: followUpSchema, value: { key: 'warm-up', index: -1 } });
  return producer;
}

/** Events/s from the member's start to the last emit visible to a read_committed reader. */
async function throughput(arm: Arm): Promise<number> {
  const [source, target] = await topicsFor(arm, 'n');
  await prefill(kafka, source, events, (index) => ({ key: `key-${index % keys}`, value: Buffer.from(String(index)) }));
  const producer = await newProducer(target);
  const reader = await downstream(kafka, target);
  // The reader has joined and reads: its own start is not counted.
  await waitUntil(() => reader.seen.size >= 1, `${arm}: the reader to read the warm-up event`, 60_000);
  const consumer = member(arm, source, target, producer, false);
  // From the join (the group's own start is the same for every arm): the shards' start is counted.
  let joinedAt: number | undefined;
  consumer.events.once('consumer.group.joined', () => (joinedAt = performance.now()));
  await consumer.start();
  await waitUntil(() => reader.seen.size >= events + 1, `${arm}: ${reader.seen.size - 1} of ${events} emits visible`);
  const elapsed = (performance.now() - joinedAt!) / 1000;
  await consumer.stop();
  await Promise.all([producer.close(), reader.stop()]);
  return events / elapsed;
}

/** Per event, source timestamp to emit visible downstream, with sources produced at a steady rate. */
async function latency(arm: Arm, slow: boolean): Promise<Latency> {
  const [source, target] = await topicsFor(arm, slow ? 'slow' : 'steady');
  const producer = await newProducer(target);
  const reader = await downstream(kafka, target);
  const consumer = member(arm, source, target, producer, slow);
  const transactionMs: number[] = [];
  consumer.events.on('consumer.transaction.committed', ({ durationMs }) => transactionMs.push(durationMs));
  await consumer.start();
  const sourceProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await sourceProducer.connect();
  // The member has joined and its shards have started once a first event comes through.
  await sourceProducer.send({ topic: source, acks: -1, messages: [{ key: 'warm-up', value: Buffer.from('-1') }] });
  await waitUntil(() => reader.seen.size >= 2, `${arm}: the first event through`, 60_000);
  const total = ratePerSecond * seconds;
  const perTick = Math.max(1, Math.round(ratePerSecond / 100));
  const startedAt = Date.now();
  for (let sent = 0, tick = 0; sent < total; tick++) {
    const due = startedAt + tick * 10;
    if (due > Date.now()) await sleep(due - Date.now());
    const count = Math.min(perTick, total - sent);
    const messages = Array.from({ length: count }, (_, offset) => ({ key: `key-${(sent + offset) % keys}`, value: Buffer.from(String(sent + offset)) }));
    sent += count;
    await sourceProducer.send({ topic: source, acks: -1, messages });
  }
  await waitUntil(() => reader.seen.size >= total + 2, `${arm}: ${reader.seen.size - 2} of ${total} emits visible`);
  await sleep(500); // a repeated emit would land now
  await consumer.stop();
  await Promise.all([producer.close(), reader.stop(), sourceProducer.disconnect()]);
  const sorted = reader.latencyMs.slice(1).sort((left, right) => left - right);
  const transactions = transactionMs.sort((left, right) => left - right);
  const transactionP = (p: number) => (transactions.length === 0 ? 0 : round(percentile(transactions, p)));
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1)!, events: sorted.length, duplicates: reader.duplicates(), transactionP50: transactionP(50), transactionP99: transactionP(99) };
}

const loadAtStart = loadNow();
const measured = await interleave(arms, repetitions, async (arm) => {
  const value = await throughput(arm);
  const steady = await latency(arm, false);
  const slow = await latency(arm, true);
  latencies.steady[arm].push(steady);
  latencies.slow[arm].push(slow);
  console.log(`  ${arm}: steady p50 ${steady.p50} p90 ${steady.p90} p99 ${steady.p99} ms (transactions p50 ${steady.transactionP50} p99 ${steady.transactionP99} ms); slow handlers p50 ${slow.p50} p90 ${slow.p90} p99 ${slow.p99} ms; duplicates ${steady.duplicates + slow.duplicates}`);
  return value;
});
await admin.deleteTopics({ topics }).catch(() => undefined);
await admin.disconnect();

/** Per percentile, the median over the repetitions and the spread. */
function latencySummary(runs: Latency[]) {
  const of = (field: keyof Latency) => {
    const values = runs.map((run) => run[field]);
    return { median: round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!), min: Math.min(...values), max: Math.max(...values), runs: values };
  };
  return { p50: of('p50'), p90: of('p90'), p99: of('p99'), max: of('max'), transactionP50: of('transactionP50'), transactionP99: of('transactionP99'), events: runs[0]?.events ?? 0, duplicates: runs.reduce((sum, run) => sum + run.duplicates, 0) };
}

const throughputs = Object.fromEntries(arms.map((arm) => [arm, summarize(measured[arm] as Measurement[])])) as Record<Arm, ReturnType<typeof summarize>>;
const steady = Object.fromEntries(arms.map((arm) => [arm, latencySummary(latencies.steady[arm])])) as Record<Arm, ReturnType<typeof latencySummary>>;
const slow = Object.fromEntries(arms.map((arm) => [arm, latencySummary(latencies.slow[arm])])) as Record<Arm, ReturnType<typeof latencySummary>>;
const setup = environment({
  loadAverageAtStart: loadAtStart,
  workload: `${partitions} partitions, ${keys} keys, one member, concurrency ${concurrency}, one Avro emit per source to a ${partitions}-partition topic; throughput: ${events} prefilled; latency: ${ratePerSecond}/s for ${seconds} s, then the same with 1 source in ${slowEvery} taking ${slowMs} ms; downstream: raw kafkajs, read_committed`,
  commitIntervalsMs: commitIntervalOf,
  loadAverageAtEnd: loadNow(),
});
const row = (arm: Arm) => {
  const t = throughputs[arm];
  const s = steady[arm];
  const w = slow[arm];
  const transaction = arm === 'emit' ? '-' : `${s.transactionP50.median} / ${s.transactionP99.median}`;
  return `| ${arm} | ${t.median} (${t.min} to ${t.max}) | ${s.p50.median} / ${s.p90.median} / ${s.p99.median} (p99 ${s.p99.min} to ${s.p99.max}) | ${transaction} | ${w.p50.median} / ${w.p90.median} / ${w.p99.median} (p99 ${w.p99.min} to ${w.p99.max}) | ${s.duplicates + w.duplicates} | ${t.loadAverages.join(', ')} |`;
};
writeResults('emit-transactions', { setup, note: 'The issue gives no goal for transactional emits: figures reported, not judged.', throughput: throughputs, latencySteady: steady, latencySlowHandlers: slow }, [
  '## Transactional emits (`transactional: true`)',
  '',
  `One member, ${partitions} partitions, ${keys} keys, concurrency ${concurrency}, one Avro emit per source event; ${repetitions} interleaved repetitions (\`npm run bench:emit-tx\`). \`emit\`: emits acknowledged one by one (batched), offsets committed apart; \`transactional-N\`: the emits and the offsets in one transaction per shard every N ms. Downstream: raw kafkajs reading \`read_committed\`. Events/s: ${events} prefilled events, from the member's join (its shards' start included) to the last emit visible downstream. Latency: source record timestamp to its emit read downstream, sources produced at ${ratePerSecond}/s for ${seconds} s; then the same with one source in ${slowEvery} taking ${slowMs} ms in its handler. No goal was set for this: the figures are reported, not judged.`,
  '',
  '| arm | events/s, median (range) | latency ms p50 / p90 / p99 | one shard transaction, ms p50 / p99 | with slow handlers: latency p50 / p90 / p99 | emits read twice | load averages |',
  '|---|---|---|---|---|---|---|',
  ...arms.map(row),
  '',
  `Machine: ${setup.machine}; load average ${setup.loadAverageAtStart} at start, ${setup.loadAverageAtEnd} at the end.`,
]);
process.exit(0);
