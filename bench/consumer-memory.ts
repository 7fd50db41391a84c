/**
 * Workload 4, memory: 10,000 handler calls held open at once (concurrency 10,000, 10,000 keys, each handler
 * awaiting one latch), 1 KB values. Goal: (RSS in flight − idle RSS) / in flight ≤ 2 KB + the payload.
 * Each repetition runs in its own child process (`--probe <topic>`), so RSS starts from the same point:
 * the probe starts an OrderedConsumer on the empty topic, waits until it joined, collects garbage and samples
 * its idle RSS; then this parent fills the topic (so no producer buffers count in the probe); the probe waits
 * until 10,000 calls are in flight, collects garbage, samples RSS again, opens the latch and reports.
 * Beside RSS, each sample records V8's heap spaces (committed and used) and the process's external and array
 * buffer bytes, so the growth per record splits into live heap, heap committed and unused (the young generation
 * grown under the intake's allocation), buffers, and the rest (native allocations, malloc arenas).
 * Run: `npm run bench:memory` (BENCH_IN_FLIGHT, BENCH_REPETITIONS; BENCH_HEAP_SNAPSHOT=<prefix> writes heap
 * snapshots of the probe, `<prefix>-idle.heapsnapshot` after the idle sample and `<prefix>-loaded.heapsnapshot`
 * while the calls are in flight, for bench/support/heap-per-record.ts; the idle snapshot raises the RSS the
 * loaded sample starts from, so such a run prints its figures and does not write them to the results).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
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
  /** The RSS growth per record in flight, split by where it sits (see {@link MemorySample}). */
  rssSplitPerInFlight: Record<string, number>;
  handled: number;
}

/** `process.memoryUsage()` and each V8 heap space's committed and used bytes. */
interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, { committed: number; used: number }>;
}

function sample(): MemorySample {
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, { committed: space.space_size, used: space.space_used_size }]));
  return { rss, heapTotal, heapUsed, external, arrayBuffers, spaces };
}

/**
 * The RSS growth between two samples, per record: the live V8 heap (used), array buffers (the records' bytes)
 * and other external memory, and the rest: pages the process touched that hold nothing live, mostly the
 * young generation V8 grew under the intake's allocation (its committed growth is given beside) and malloc's
 * arenas keeping freed fetch buffers' pages.
 */
function rssSplit(idle: MemorySample, loaded: MemorySample, count: number): Record<string, number> {
  const per = (bytes: number) => Math.round(bytes / count);
  const rss = loaded.rss - idle.rss;
  const used = loaded.heapUsed - idle.heapUsed;
  const external = loaded.external - idle.external;
  const space = (sample: MemorySample, name: string) => sample.spaces[name]?.committed ?? 0;
  return {
    rss: per(rss),
    'heap used': per(used),
    'array buffers': per(loaded.arrayBuffers - idle.arrayBuffers),
    'other external': per(external - (loaded.arrayBuffers - idle.arrayBuffers)),
    'rest (touched, not live: young generation, malloc)': per(rss - used - external),
    'new space committed (grown)': per(space(loaded, 'new_space') - space(idle, 'new_space')),
    'old space committed (grown)': per(space(loaded, 'old_space') - space(idle, 'old_space')),
  };
}

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
  const idle = sample();
  const idleRssBytes = idle.rss;
  const idleHeapBytes = idle.heapUsed;
  const idleArrayBuffers = idle.arrayBuffers;
  const snapshotPrefix = process.env.BENCH_HEAP_SNAPSHOT;
  if (snapshotPrefix) console.error(`heap snapshot: ${writeHeapSnapshot(`${snapshotPrefix}-idle.heapsnapshot`)}`);
  console.log('ready');
  while (consumer.stats().inFlight < inFlight) await sleep(50);
  await sleep(1_000);
  await collect();
  const loaded = sample();
  const loadedRssBytes = loaded.rss;
  const loadedHeapBytes = loaded.heapUsed;
  const loadedArrayBuffers = loaded.arrayBuffers;
  const held = consumer.stats().inFlight;
  if (snapshotPrefix) console.error(`heap snapshot: ${writeHeapSnapshot(`${snapshotPrefix}-loaded.heapsnapshot`)} (${held} in flight)`);
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
    rssSplitPerInFlight: rssSplit(idle, loaded, held),
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
  const runs: (ProbeResult & { load: number })[] = [];
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
  const splitNames = [...new Set(runs.flatMap((run) => Object.keys(run.rssSplitPerInFlight)))];
  const rssSplitPerInFlight = Object.fromEntries(splitNames.map((name) => [name, median(runs.map((run) => run.rssSplitPerInFlight[name] ?? 0))]));
  const write = process.env.BENCH_HEAP_SNAPSHOT ? (_workload: string, result: Record<string, unknown>) => console.log(JSON.stringify(result, null, 2)) : writeResults;
  write(
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
      rssSplitPerInFlight,
      rssSplitMeaning: 'median bytes per record in flight: the RSS growth, the V8 heap used and committed-but-unused by space, array buffers, other external memory, and the rest (native)',
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
      `Where the RSS growth sits, bytes per record in flight (median of the repetitions): ${Object.entries(rssSplitPerInFlight)
        .map(([name, bytes]) => `${name} ${bytes}`)
        .join('; ')}.`,
      '',
      `**${perInFlight} bytes per event in flight (median; spread ${Math.min(...runs.map((run) => run.perInFlightBytes))}–${Math.max(...runs.map((run) => run.perInFlightBytes))}) against a goal of ${goalBytes} (2 KB + the ${valueBytes}-byte payload): ${ratio}x the goal, ${ratio <= 1 ? 'met' : 'missed'}.**`,
    ],
  );
  process.exit(0);
}
