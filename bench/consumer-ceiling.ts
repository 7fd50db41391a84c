/**
 * Workload 5, the ceiling: Kafka's own consumer (`org.apache.kafka.tools.ConsumerPerformance`, i.e.
 * kafka-consumer-perf-test, from the kafka-tools 4.2.1 jars in infra/kafka/target/libs) beside raw kafkajs on
 * the same topic: 12 partitions, 1 KB values, fresh groups, interleaved, BENCH_REPETITIONS times. It shows what
 * the Node client itself costs before Orderly adds anything (workload 1 measures Orderly against raw kafkajs).
 * ConsumerPerformance's `fetch.nMsg.sec` excludes its group join, as the kafkajs arm's timing does.
 * Run: `npm run bench:ceiling` (BENCH_EVENTS, default the 1,000,000: at 200,000 each JVM run is too short
 * to warm up, and Java measured 0.66x of its 1M figure).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { kafkaLibsDir } from '../infra/stack/stack-paths.ts';
import { benchKafka, benchSettings, createBenchTopic, environment, interleave, loadNow, prefill, ratios, summarize, uniqueName, writeResults } from './support/bench-kit.ts';
import { runRawKafkajs } from './support/consumer-arms.ts';

const events = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const partitions = 12;
const valueBytes = 1024;
if (!existsSync(`${kafkaLibsDir}/kafka-tools-4.2.1.jar`)) throw new Error(`kafka-tools is missing from ${kafkaLibsDir}: run \`mvn -B -q -f infra/kafka/pom.xml package\``);

const settings = benchSettings();
const kafka = benchKafka(settings, 'bench-ceiling');
const admin = kafka.admin();
await admin.connect();
const topic = await createBenchTopic(admin, 'bench-ceiling', partitions);
const value = Buffer.alloc(valueBytes, 'c');
const fillSeconds = await prefill(kafka, topic, events, (index) => ({ key: `account-${index % 10_000}`, value }), 2_000);
console.log(`pre-filled ${events} events in ${fillSeconds.toFixed(1)} s`);

async function consumerPerformance(): Promise<number> {
  const { stdout } = await promisify(execFile)(
    'java',
    ['-Xmx512m', '-cp', `${kafkaLibsDir}/*`, 'org.apache.kafka.tools.ConsumerPerformance', '--bootstrap-server', settings.KAFKA_BROKERS, '--topic', topic, '--num-records', String(events), '--group', uniqueName('bench-perf'), '--timeout', '60000'],
    { maxBuffer: 16 * 2 ** 20, timeout: 600_000 },
  );
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = stdout.trim().split('\n');
  const header = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  const columns = lines[header]!.split(',').map((column) => column.trim());
  const values = lines[header + 1]!.split(',').map((column) => column.trim());
  const consumed = Number(values[columns.indexOf('data.consumed.in.nMsg')]);
  if (consumed < events) throw new Error(`ConsumerPerformance consumed ${consumed} of ${events}`);
  return Number(values[columns.indexOf('fetch.nMsg.sec')]);
}

const arms = ['raw-kafkajs', 'kafka-consumer-perf'] as const;
type Arm = (typeof arms)[number];
const runArm = async (arm: Arm, count = events) => (arm === 'raw-kafkajs' ? (await runRawKafkajs(kafka, topic, count)).eventsPerSecond : consumerPerformance());
await runRawKafkajs(kafka, topic, Math.min(events, 20_000)); // warm-up
const measured = await interleave(arms, repetitions, (arm) => runArm(arm));
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();

const summary = Object.fromEntries(arms.map((arm) => [arm, summarize(measured[arm])])) as Record<Arm, ReturnType<typeof summarize>>;
const kafkajsVsJava = ratios(measured['raw-kafkajs'], measured['kafka-consumer-perf']);
const setup = environment({
  java: 'OpenJDK 17, kafka-clients 4.2.1 (ConsumerPerformance from kafka-tools 4.2.1, default consumer settings, -Xmx512m)',
  partitions,
  events,
  eventsNote: 'the same shape as workload 1 (12 partitions, 1 KB values), raw bytes; no Orderly arm here',
  valueBytes,
  repetitions,
  timing: 'kafkajs: first batch to last event; ConsumerPerformance: its fetch.nMsg.sec (after the group join)',
  loadAverageAtEnd: loadNow(),
});
writeResults(
  'consumer-ceiling',
  {
    setup,
    arms: summary,
    ratio: kafkajsVsJava.ratio,
    ratioMeaning: 'raw kafkajs / Kafka ConsumerPerformance (Java): what the Node client reaches of the Java client; informational',
    goal: null,
    goalNote: 'the issue sets no number for the ceiling: it is reported beside raw kafkajs',
    ratios: { kafkajsVsJava },
  },
  [
    '## The ceiling: Kafka ConsumerPerformance beside raw kafkajs (`npm run bench -- consumer-ceiling`)',
    '',
    `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}; ${setup.java}; Kafka ${setup.kafka}. ${partitions} partitions, ${events} events of ${valueBytes} bytes, fresh groups; ${repetitions} repetitions interleaved. Load average at the start ${setup.loadAverageAtStart.join(', ')}. Measured ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| arm | median events/s | spread (min–max) | median MiB/s of values | load average per run |',
    '|---|---|---|---|---|',
    ...arms.map((arm) => `| ${arm} | ${summary[arm].median} | ${summary[arm].min}–${summary[arm].max} | ${((summary[arm].median * valueBytes) / 2 ** 20).toFixed(1)} | ${summary[arm].loadAverages.join(', ')} |`),
    '',
    `**Raw kafkajs reaches ${kafkajsVsJava.ratio}x of Kafka's Java consumer** (paired per repetition ${kafkajsVsJava.pairedSpread.join('–')}). No goal is set for this ratio; it bounds what any kafkajs-based consumer, Orderly included, can reach here.`,
  ],
);
process.exit(0);
