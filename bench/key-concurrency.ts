/**
 * Workload 2, key concurrency: one partition, a 10 ms timer handler, 256 handler calls in flight.
 * Arms (same run, fresh groups, interleaved in a rotating order, BENCH_REPETITIONS times):
 * - `orderly-key-1000` / `orderly-key-10`: `ordering: 'key'` on a topic of 1,000 keys / 10 keys, default options;
 * - `orderly-key-1000-deep`: the same with `partitionHighWatermarkRecords: 10000` (before the defaults scaled with
 *   concurrency, the default 1,000 paused the only partition into kafkajs's `maxWaitTimeInMs` sleep; now the
 *   default at concurrency 256 is 8,192, and this arm shows what a deeper mark still adds);
 * - `orderly-partition-1000` / `orderly-partition-10`: `ordering: 'partition'` (one call at a time) on the same topics;
 * - `parallel-consumer`: Confluent's Parallel Consumer 0.5.3.3 (Java, KEY ordering, maxConcurrency 256,
 *   Thread.sleep(10)) on the 1,000-key topic (infra/parallel-consumer, built with Maven on first use).
 * Goals: key/partition ≥ 50x with 1,000 keys (aim 100x), ≥ 8x with 10 keys; Orderly/Parallel Consumer ≥ 1.2x (issue 19: must not regress from 1.09-1.14x toward it).
 * Run: `npm run bench:keys` (BENCH_KEY_EVENTS, BENCH_PARTITION_EVENTS, BENCH_REPETITIONS).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../infra/stack/stack-paths.ts';
import { benchKafka, benchSettings, brokersOf, createBenchTopic, environment, interleave, loadNow, prefill, ratios, summarize, uniqueName, writeResults, type Measurement } from './support/bench-kit.ts';
import { runOrderly } from './support/consumer-arms.ts';

const keyEvents = Number(process.env.BENCH_KEY_EVENTS ?? 40_000);
const fewKeyEvents = Number(process.env.BENCH_FEW_KEY_EVENTS ?? 5_000);
const partitionEvents = Number(process.env.BENCH_PARTITION_EVENTS ?? 400);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const concurrency = 256;
const deepWatermarkRecords = 10_000;
const handlerMs = 10;
const valueBytes = 100;
const goals = { keys1000VsPartition: 50, keys1000Aim: 100, keys10VsPartition: 8, orderlyVsParallelConsumer: 1.2 };

const jar = `${projectRoot}/infra/parallel-consumer/target/parallel-consumer-bench.jar`;
if (!existsSync(jar)) {
  // Built on first use from Maven Central (Parallel Consumer and kafka-clients; infra/parallel-consumer/pom.xml).
  console.log('building the Parallel Consumer arm: mvn -B -q -f infra/parallel-consumer/pom.xml package');
  const built = spawnSync('mvn', ['-B', '-q', '-f', `${projectRoot}/infra/parallel-consumer/pom.xml`, 'package'], { stdio: 'inherit' });
  if (built.status !== 0 || !existsSync(jar)) throw new Error(`${jar} is missing and the Maven build failed (exit ${built.status}): run \`mvn -B -f infra/parallel-consumer/pom.xml package\` to see why`);
}

const settings = benchSettings();
const kafka = benchKafka(settings, 'bench-keys');
const admin = kafka.admin();
await admin.connect();
const value = 'v'.repeat(valueBytes);
const topics = {
  1000: await createBenchTopic(admin, 'bench-keys-1000', 1),
  10: await createBenchTopic(admin, 'bench-keys-10', 1),
} as const;
const fillSeconds = await prefill(kafka, topics[1000], keyEvents, (index) => ({ key: `key-${index % 1000}`, value }));
await prefill(kafka, topics[10], Math.max(fewKeyEvents, partitionEvents), (index) => ({ key: `key-${index % 10}`, value }));
console.log(`pre-filled ${keyEvents} events in ${fillSeconds.toFixed(1)} s`);

const kafkaOptions = { brokers: brokersOf(settings), clientId: 'bench-keys' };
const timerHandler = () => delay(handlerMs);

async function parallelConsumer(): Promise<number> {
  const { stdout } = await promisify(execFile)(
    'java',
    ['-Xmx512m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-jar', jar, settings.KAFKA_BROKERS, topics[1000], uniqueName('bench-pc'), String(concurrency), String(handlerMs), String(keyEvents), 'KEY'],
    { maxBuffer: 16 * 2 ** 20, timeout: 600_000 },
  );
  const line = stdout.split('\n').find((candidate) => candidate.startsWith('{"arm":"parallel-consumer"'));
  if (!line) throw new Error(`parallel consumer printed no result:\n${stdout.slice(-2000)}`);
  const result = JSON.parse(line) as { finished: boolean; eventsPerSecond: number };
  if (!result.finished) throw new Error(`parallel consumer did not finish: ${line}`);
  return result.eventsPerSecond;
}

const arms = ['orderly-key-1000', 'orderly-key-1000-deep', 'orderly-partition-1000', 'parallel-consumer', 'orderly-key-10', 'orderly-partition-10'] as const;
type Arm = (typeof arms)[number];

async function runArm(arm: Arm): Promise<number> {
  if (arm === 'parallel-consumer') return parallelConsumer();
  const keys = arm.includes('-1000') ? 1000 : 10;
  const watermarks = arm.endsWith('-deep') ? { partitionHighWatermarkRecords: deepWatermarkRecords } : {};
  const ordering = arm.startsWith('orderly-key') ? 'key' : 'partition';
  const events = ordering === 'partition' ? partitionEvents : keys === 1000 ? keyEvents : fewKeyEvents;
  const run = await runOrderly({ kafka: kafkaOptions, topics: [topics[keys]], ordering, concurrency, handler: timerHandler, ...watermarks }, events);
  return run.eventsPerSecond;
}

// Warm-up (JIT, connections, the JVM's class loading) on small counts, not recorded.
await runOrderly({ kafka: kafkaOptions, topics: [topics[1000]], concurrency, handler: timerHandler }, 2_000);
const measured: Record<Arm, Measurement[]> = await interleave(arms, repetitions, runArm);

await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
await admin.disconnect();

const summary = Object.fromEntries(arms.map((arm) => [arm, summarize(measured[arm], 1)])) as Record<Arm, ReturnType<typeof summarize>>;
const keys1000 = ratios(measured['orderly-key-1000'], measured['orderly-partition-1000']);
const keys10 = ratios(measured['orderly-key-10'], measured['orderly-partition-10']);
const versusPc = ratios(measured['orderly-key-1000'], measured['parallel-consumer']);
const deepKeys1000 = ratios(measured['orderly-key-1000-deep'], measured['orderly-partition-1000']);
const deepVersusPc = ratios(measured['orderly-key-1000-deep'], measured['parallel-consumer']);
const met = { keys1000: keys1000.ratio >= goals.keys1000VsPartition, keys10: keys10.ratio >= goals.keys10VsPartition, versusParallelConsumer: versusPc.ratio >= goals.orderlyVsParallelConsumer };
const setup = environment({
  parallelConsumer: 'io.confluent.parallelconsumer:parallel-consumer-core 0.5.3.3, kafka-clients 3.9.1, Java 17, KEY ordering, maxConcurrency 256, PERIODIC_CONSUMER_ASYNCHRONOUS commits, Thread.sleep(10)',
  orderly: "ordering 'key' vs 'partition', concurrency 256, handler `await setTimeout(10)`, retryTiersMs [], no idempotency store, default watermarks",
  partitions: 1,
  valueBytes,
  events: { 'key-1000 and parallel-consumer': keyEvents, 'key-10': fewKeyEvents, partition: partitionEvents },
  repetitions,
  timing: "from an arm's first handler call to its last counted completion (group join and JVM start excluded)",
  loadAverageAtEnd: loadNow(),
});
writeResults(
  'key-concurrency',
  {
    setup,
    arms: summary,
    ratio: keys1000.ratio,
    goal: goals.keys1000VsPartition,
    goalMet: met.keys1000,
    met: met.keys1000 && met.keys10 && met.versusParallelConsumer,
    ratios: {
      keys1000VsPartition: { ...keys1000, goal: goals.keys1000VsPartition, aim: goals.keys1000Aim, met: met.keys1000 },
      keys10VsPartition: { ...keys10, goal: goals.keys10VsPartition, met: met.keys10 },
      orderlyVsParallelConsumer: { ...versusPc, goal: goals.orderlyVsParallelConsumer, met: met.versusParallelConsumer },
      deepWatermarkKeys1000VsPartition: { ...deepKeys1000, goal: goals.keys1000VsPartition, met: deepKeys1000.ratio >= goals.keys1000VsPartition },
      deepWatermarkOrderlyVsParallelConsumer: { ...deepVersusPc, goal: goals.orderlyVsParallelConsumer, met: deepVersusPc.ratio >= goals.orderlyVsParallelConsumer },
    },
  },
  [
    '## Key concurrency (`npm run bench -- key-concurrency`)',
    '',
    `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}; Kafka ${setup.kafka}. One partition, ${valueBytes}-byte values, a ${handlerMs} ms timer handler, ${concurrency} in flight; ${repetitions} repetitions, arms interleaved in a rotating order after a warm-up; each arm timed from its first handler call to its last completion. Events per arm: ${keyEvents} (1,000 keys, and the Parallel Consumer), ${fewKeyEvents} (10 keys), ${partitionEvents} (\`ordering: 'partition'\`, 100/s at best). Load average at the start ${setup.loadAverageAtStart.join(', ')}. Measured ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| arm | median events/s | spread (min–max) | load average per run |',
    '|---|---|---|---|',
    ...arms.map((arm) => `| ${arm} | ${summary[arm].median} | ${summary[arm].min}–${summary[arm].max} | ${summary[arm].loadAverages.join(', ')} |`),
    '',
    '| ratio | median | paired per repetition (min–max) | goal | |',
    '|---|---|---|---|---|',
    `| key / partition, 1,000 keys | **${keys1000.ratio}x** | ${keys1000.pairedSpread.join('–')} | ≥ ${goals.keys1000VsPartition}x (aim ${goals.keys1000Aim}x) | ${met.keys1000 ? 'met' : 'missed'} |`,
    `| key / partition, 10 keys | **${keys10.ratio}x** | ${keys10.pairedSpread.join('–')} | ≥ ${goals.keys10VsPartition}x | ${met.keys10 ? 'met' : 'missed'} |`,
    `| Orderly key / Parallel Consumer KEY, 1,000 keys | **${versusPc.ratio}x** | ${versusPc.pairedSpread.join('–')} | ≥ ${goals.orderlyVsParallelConsumer}x | ${met.versusParallelConsumer ? 'met' : 'missed'} |`,
    `| key / partition, 1,000 keys, \`partitionHighWatermarkRecords: ${deepWatermarkRecords}\` | ${deepKeys1000.ratio}x | ${deepKeys1000.pairedSpread.join('–')} | ≥ ${goals.keys1000VsPartition}x | ${deepKeys1000.ratio >= goals.keys1000VsPartition ? 'met' : 'missed'} |`,
    `| Orderly key (watermark ${deepWatermarkRecords}) / Parallel Consumer KEY | ${deepVersusPc.ratio}x | ${deepVersusPc.pairedSpread.join('–')} | ≥ ${goals.orderlyVsParallelConsumer}x | ${deepVersusPc.ratio >= goals.orderlyVsParallelConsumer ? 'met' : 'missed'} |`,
  ],
);
