/**
 * Workload 4, memory: 10,000 handler calls held open at once (concurrency 10,000, 10,000 keys, each handler
 * awaiting one latch), 1 KB values. Goal: (RSS in flight − idle RSS) / in flight ≤ 2 KB + the payload.
 * Each repetition runs in its own child process (`--probe <topic>`), so RSS starts from the same point:
 * the probe starts an OrderedConsumer on the empty topic, waits until it joined, collects garbage and samples
 * its idle RSS; then this parent fills the topic (so no producer buffers count in the probe); the probe waits
 * until 10,000 calls are in flight, collects garbage, samples RSS again, opens the latch and reports.
 * Run: `npm run bench:memory` (BENCH_IN_FLIGHT, BENCH_REPETITIONS; BENCH_HEAP_SNAPSHOT=<file> writes a heap
 * snapshot of the probe while the calls are in flight).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import { benchKafka, benchSettings, brokersOf, createBenchTopic, environment, loadNow, median, prefill, round, sleep, uniqueName, writeResults } from './support/bench-kit.ts';

const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 10_000);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const valueBytes = 1024;
const goalBytesOverPayload = 2048;
const settings = benchSettings();

interface ProbeResult {
  idleRssBytes: number;
  loadedRssBytes: number;
  idleHeapBytes: number;
  loadedHeapBytes: number;
  inFlight: number;
  perInFlightBytes: number;
  heapPerInFlightBytes: number;
  /** Buffers outside the V8 heap (the copied keys and values, kafkajs's fetch responses). */
  arrayBuffersPerInFlightBytes: number;
  handled: number;
}

const rss = () => process.memoryUsage().rss;
const collect = async () => {
  for (let round = 0; round < 3; round += 1) {
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(100);
  }
};

async function probe(topic: string): Promise<void> {
  let open: () => void = () => undefined;
  const latch = new Promise<void>((resolve) => (open = resolve));
  let handled = 0;
  let joined = false;
  const consumer = new OrderedConsumer({
    kafka: { brokers: brokersOf(settings), clientId: 'bench-memory' },
    groupId: uniqueName('bench-memory'),
    topics: [topic],
    concurrency: inFlight,
    retryTiersMs: [],
    partitionHighWatermarkRecords: inFlight * 2,
    partitionHighWatermarkBytes: 256 * 2 ** 20,
    memberHighWatermarkRecords: inFlight * 4,
    memberHighWatermarkBytes: 512 * 2 ** 20,
    maxEventLoopDelayMs: 0,
    handler: async () => {
      await latch;
      handled += 1;
    },
  });
  consumer.events.on('consumer.group.joined', () => (joined = true));
  await consumer.start();
  while (!joined) await sleep(50);
  await sleep(2_000);
  await collect();
  const idleRssBytes = rss();
  const idleHeapBytes = process.memoryUsage().heapUsed;
  const idleArrayBuffers = process.memoryUsage().arrayBuffers;
  console.log('ready');
  while (consumer.stats().inFlight < inFlight) await sleep(50);
  await sleep(1_000);
  await collect();
  const loadedRssBytes = rss();
  const loadedHeapBytes = process.memoryUsage().heapUsed;
  const loadedArrayBuffers = process.memoryUsage().arrayBuffers;
  if (process.env.BENCH_HEAP_SNAPSHOT) console.error(`heap snapshot: ${writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT)}`);
  const held = consumer.stats().inFlight;
  open();
  while (handled < held) await sleep(50);
  await consumer.stop();
  const result: ProbeResult = {
    idleRssBytes,
    loadedRssBytes,
    idleHeapBytes,
    loadedHeapBytes,
    inFlight: held,
    perInFlightBytes: Math.round((loadedRssBytes - idleRssBytes) / held),
    heapPerInFlightBytes: Math.round((loadedHeapBytes - idleHeapBytes) / held),
    arrayBuffersPerInFlightBytes: Math.round((loadedArrayBuffers - idleArrayBuffers) / held),
    handled,
  };
  console.log(`result ${JSON.stringify(result)}`);
  process.exit(0);
}

async function repetition(index: number): Promise<ProbeResult & { load: number }> {
  const kafka = benchKafka(settings, 'bench-memory-fill');
  const admin = kafka.admin();
  await admin.connect();
  const topic = await createBenchTopic(admin, 'bench-memory', 1);
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--probe', topic], { stdio: ['ignore', 'pipe', 'inherit'] });
  let result: ProbeResult | undefined;
  const lines = createInterface({ input: child.stdout });
  const value = 'm'.repeat(valueBytes);
  try {
    for await (const line of lines) {
      // 500 a request: 2,000 values of 1 KB to one partition pass the broker's 1 MB message limit.
      if (line === 'ready') await prefill(kafka, topic, inFlight, (event) => ({ key: `key-${event}`, value, headers: { 'orderly-event-id': `memory-${index}-${event}` } }), 500);
      if (line.startsWith('result ')) result = JSON.parse(line.slice('result '.length)) as ProbeResult;
    }
  } finally {
    if (child.exitCode === null) child.kill();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  if (!result) throw new Error('the memory probe reported nothing');
  const load = loadNow();
  console.log(`repetition ${index + 1}/${repetitions}: ${JSON.stringify(result)} (load ${load})`);
  return { ...result, load };
}

if (process.argv[2] === '--probe') {
  await probe(process.argv[3]!);
} else {
  const runs = [];
  for (let index = 0; index < repetitions; index += 1) runs.push(await repetition(index));
  const perInFlight = median(runs.map((run) => run.perInFlightBytes));
  const goalBytes = goalBytesOverPayload + valueBytes;
  const ratio = round(perInFlight / goalBytes, 3);
  const setup = environment({
    inFlight,
    valueBytes,
    keyBytes: 'key-<n>: 5-9 bytes',
    headers: 'orderly-event-id (~20 bytes)',
    repetitions,
    orderly: `concurrency ${inFlight}, ${inFlight} keys on 1 partition, handlers awaiting one latch, watermarks raised above ${inFlight} records, event-loop pause off`,
    method: 'process.memoryUsage().rss in the consumer process (a child per repetition, --expose-gc, three gc() before each sample); idle = joined on the empty topic',
    loadAverageAtEnd: loadNow(),
  });
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  writeResults(
    'consumer-memory',
    {
      setup,
      runs,
      perInFlightBytes: perInFlight,
      perInFlightSpread: [Math.min(...runs.map((run) => run.perInFlightBytes)), Math.max(...runs.map((run) => run.perInFlightBytes))],
      ratio,
      ratioMeaning: 'median (RSS in flight − idle RSS) / in flight, over the goal of 2 KB + the 1 KB payload: at most 1 meets it',
      goal: { bytesPerInFlight: goalBytes, formula: '2048 + payload (1024)' },
      goalMet: ratio <= 1,
      met: ratio <= 1,
      heapBytesPerInFlight: median(runs.map((run) => run.heapPerInFlightBytes)),
      arrayBufferBytesPerInFlight: median(runs.map((run) => run.arrayBuffersPerInFlightBytes)),
    },
    [
      '## Memory in flight (`npm run bench -- consumer-memory`)',
      '',
      `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}; Kafka ${setup.kafka}. ${inFlight} handler calls held open at once (${setup.orderly}), ${valueBytes}-byte values; ${setup.method}. ${repetitions} repetitions. Measured ${new Date().toISOString().slice(0, 10)}.`,
      '',
      '| repetition | idle RSS MiB | in-flight RSS MiB | in flight | RSS bytes per in-flight | heap bytes per in-flight | array-buffer bytes per in-flight | load average |',
      '|---|---|---|---|---|---|---|---|',
      ...runs.map((run, index) => `| ${index + 1} | ${mib(run.idleRssBytes)} | ${mib(run.loadedRssBytes)} | ${run.inFlight} | ${run.perInFlightBytes} | ${run.heapPerInFlightBytes} | ${run.arrayBuffersPerInFlightBytes} | ${run.load} |`),
      '',
      `**${perInFlight} bytes per event in flight (median; spread ${Math.min(...runs.map((run) => run.perInFlightBytes))}–${Math.max(...runs.map((run) => run.perInFlightBytes))}) against a goal of ${goalBytes} (2 KB + the ${valueBytes}-byte payload): ${ratio}x the goal, ${ratio <= 1 ? 'met' : 'missed'}.**`,
    ],
  );
  process.exit(0);
}
