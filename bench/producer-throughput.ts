/**
 * Publish throughput of EventProducer beside raw kafkajs `producer.send` with the same settings (idempotent,
 * acks=all, maxInFlightRequests 1, the default murmur2 partitioner, no compression, the same batch size),
 * in the same run, arms interleaved in a rotating order, several repetitions. 1 KB Avro events.
 * Arms:
 * - `event-producer`: EventProducer.publishBatch (Avro encoding, envelope headers, UUIDv7, in-flight bound).
 * - `kafkajs-prebuilt`: producer.send of messages built before the clock starts (the same bytes and headers):
 *   the strict baseline, kafkajs alone.
 * - `kafkajs-hand-encoded`: producer.send, each message encoded with avsc and given the same headers inside
 *   the timed loop: what a hand-written producer of the same events does.
 * Run: `npm run bench:producer` (not part of npm test). Writes bench/results/producer-throughput.json and
 * the producer section of bench/RESULTS.md.
 */
import { cpus, totalmem } from 'node:os';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createKafkaClient, Partitioners, type Message } from '../core/kafka-client.ts';
import { defaultStackDir } from '../infra/stack/stack-paths.ts';
import { readSettings } from '../infra/stack/stack-settings.ts';
import { EventProducer } from '../producers/event-producer.ts';
import { envelopeToHeaders } from '../producers/envelope-headers.ts';
import { newEventId } from '../producers/event-id.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { encodeWireFormat } from '../schemas/wire-format.ts';
import { benchEventType, benchMemo } from './support/bench-schema.ts';
import { writtenSchemaText } from '../schemas/avro-type.ts';

const eventsPerRun = Number(process.env.BENCH_EVENTS ?? 20_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 500);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 5);
const partitions = 6;
const goal = 0.9;

const settings = { ...readSettings(defaultStackDir()), ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name === 'KAFKA_BROKERS' || name === 'SCHEMA_REGISTRY_URL')) };
if (!settings.KAFKA_BROKERS || !settings.SCHEMA_REGISTRY_URL) throw new Error('no stack settings: run `npx orderly stack up`');

const type = benchEventType;
const memo = benchMemo;
const valueOf = (index: number) => ({ accountId: `account-${index % 1000}`, sequence: index, amountMinor: 1234, currency: 'EUR', memo });
const valueBytes = type.toBuffer(valueOf(123_456)).length + 5;

const kafka = createKafkaClient({ brokers: settings.KAFKA_BROKERS.split(','), clientId: 'bench-producer' });
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL });
const topic = `bench-producer-${Date.now().toString(36)}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });

const eventProducer = new EventProducer({ kafka, registry, topic, autoRegister: true, maxInFlight: batchSize });
const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
await raw.connect();
await eventProducer.connect();
const schemaId = await registry.register(`${topic}-value`, writtenSchemaText(type));

function handBuilt(index: number): Message {
  return {
    key: `account-${index % 1000}`,
    value: encodeWireFormat(schemaId, type.toBuffer(valueOf(index))),
    headers: envelopeToHeaders({ eventId: newEventId(), eventType: 'orderly.bench.BenchDeposited', occurredAt: new Date().toISOString() }),
  };
}

type Arm = 'event-producer' | 'kafkajs-prebuilt' | 'kafkajs-hand-encoded';
const arms: Arm[] = ['event-producer', 'kafkajs-prebuilt', 'kafkajs-hand-encoded'];

async function runArm(arm: Arm, events: number): Promise<number> {
  const prebuilt = arm === 'kafkajs-prebuilt' ? Array.from({ length: events }, (_, index) => handBuilt(index)) : [];
  const startedAt = process.hrtime.bigint();
  for (let start = 0; start < events; start += batchSize) {
    const end = Math.min(events, start + batchSize);
    if (arm === 'event-producer') {
      const batch = [];
      for (let index = start; index < end; index += 1) batch.push({ key: `account-${index % 1000}`, schema: type, value: valueOf(index) });
      await eventProducer.publishBatch(batch);
    } else {
      const messages = arm === 'kafkajs-prebuilt' ? prebuilt.slice(start, end) : Array.from({ length: end - start }, (_, offset) => handBuilt(start + offset));
      await raw.send({ topic, messages, acks: -1 });
    }
  }
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return events / seconds;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

for (const arm of arms) await runArm(arm, Math.min(eventsPerRun, 5_000)); // warm-up: JIT, connections, metadata
const rates: Record<Arm, number[]> = { 'event-producer': [], 'kafkajs-prebuilt': [], 'kafkajs-hand-encoded': [] };
for (let repetition = 0; repetition < repetitions; repetition += 1) {
  const order = arms.map((_, index) => arms[(index + repetition) % arms.length]!);
  for (const arm of order) {
    const rate = await runArm(arm, eventsPerRun);
    rates[arm].push(rate);
    console.log(`repetition ${repetition + 1} ${arm.padEnd(22)} ${rate.toFixed(0)} events/s`);
  }
}

await eventProducer.close();
await raw.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
await fetch(`${registry.url}/subjects/${topic}-value`, { method: 'DELETE' }).catch(() => undefined);
await fetch(`${registry.url}/subjects/${topic}-value?permanent=true`, { method: 'DELETE' }).catch(() => undefined);

const summary = Object.fromEntries(
  arms.map((arm) => [arm, { medianEventsPerSecond: Math.round(median(rates[arm])), minEventsPerSecond: Math.round(Math.min(...rates[arm])), maxEventsPerSecond: Math.round(Math.max(...rates[arm])), runs: rates[arm].map(Math.round) }]),
) as Record<Arm, { medianEventsPerSecond: number; minEventsPerSecond: number; maxEventsPerSecond: number; runs: number[] }>;
const ratio = summary['event-producer'].medianEventsPerSecond / summary['kafkajs-prebuilt'].medianEventsPerSecond;
const ratioVsHandEncoded = summary['event-producer'].medianEventsPerSecond / summary['kafkajs-hand-encoded'].medianEventsPerSecond;
// Paired per repetition (the arms of one repetition ran back to back): robust to drift in machine load.
const pairedRatios = rates['event-producer'].map((rate, index) => rate / rates['kafkajs-prebuilt'][index]!);
const versions = (name: string) => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
const setup = {
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB`,
  node: process.version,
  kafkajs: versions('kafkajs'),
  avsc: versions('avsc'),
  kafka: '4.2.1, one KRaft node on loopback (the local stack)',
  registry: 'Apicurio 3.0.9 (ccompat API)',
  eventsPerRun,
  batchSize,
  repetitions,
  partitions,
  valueBytes,
  producerSettings: 'idempotent, acks=all, maxInFlightRequests 1, DefaultPartitioner (murmur2), no compression',
};
const result = { date: new Date().toISOString(), setup, arms: summary, ratio: Number(ratio.toFixed(3)), ratioVsHandEncoded: Number(ratioVsHandEncoded.toFixed(3)), pairedRatioMedian: Number(median(pairedRatios).toFixed(3)), pairedRatioSpread: [Number(Math.min(...pairedRatios).toFixed(3)), Number(Math.max(...pairedRatios).toFixed(3))], goal, goalMet: ratio >= goal };
writeFileSync('bench/results/producer-throughput.json', `${JSON.stringify(result, null, 2)}\n`);

const rows = arms.map((arm) => {
  const { medianEventsPerSecond, minEventsPerSecond, maxEventsPerSecond } = summary[arm];
  return `| ${arm} | ${medianEventsPerSecond} | ${minEventsPerSecond}–${maxEventsPerSecond} | ${((medianEventsPerSecond * valueBytes) / 2 ** 20).toFixed(1)} |`;
});
const section = [
  '<!-- producer-throughput:start -->',
  '## Producer throughput (`npm run bench:producer`)',
  '',
  `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}; avsc ${setup.avsc}; Kafka ${setup.kafka}; ${setup.registry}.`,
  `${eventsPerRun} events of ${valueBytes} bytes per run, batches of ${batchSize}, ${partitions} partitions, ${repetitions} repetitions, arms interleaved in rotating order after a warm-up; ${setup.producerSettings} in every arm. Measured ${result.date.slice(0, 10)}.`,
  '',
  '| arm | median events/s | spread (min–max) | median MiB/s of values |',
  '|---|---|---|---|',
  ...rows,
  '',
  `**Ratio EventProducer / raw kafkajs (pre-built messages): ${result.ratio}** (goal ${goal}: ${result.goalMet ? 'met' : 'missed'}); against a hand-encoding kafkajs producer: ${result.ratioVsHandEncoded}. Paired per repetition: median ${result.pairedRatioMedian}, spread ${result.pairedRatioSpread.join('–')}. The machine is shared and loaded: single runs vary by 2x, so read the medians.`,
  '<!-- producer-throughput:end -->',
].join('\n');
const resultsFile = 'bench/RESULTS.md';
const previous = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '# Benchmark results\n\nMeasured on the local stack; each section is written by its bench script.\n';
const markers = /<!-- producer-throughput:start -->[\s\S]*<!-- producer-throughput:end -->/;
writeFileSync(resultsFile, markers.test(previous) ? previous.replace(markers, section) : `${previous.trimEnd()}\n\n${section}\n`);
console.log(section);
