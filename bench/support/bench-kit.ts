/**
 * What every consumer bench shares: the stack settings, a Kafka client, topics created and deleted per run,
 * pre-filling, interleaved repetitions, statistics, the machine's description and load, and writing
 * `bench/results/<workload>.json` plus the workload's section of bench/RESULTS.md (between markers).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { createKafkaClient, type Admin, type Kafka, type Message } from '../../core/kafka-client.ts';
import { defaultStackDir, projectRoot } from '../../infra/stack/stack-paths.ts';
import { readSettings, type StackSettings } from '../../infra/stack/stack-settings.ts';

/** The load average when the bench started (this module is imported first thing). */
const loadAtStart = loadavg().map((value) => Number(value.toFixed(2)));

export function benchSettings(): StackSettings {
  const fromFile = readSettings(defaultStackDir());
  const settings = {
    ...fromFile,
    ...Object.fromEntries(['KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_URL', 'SCHEMA_REGISTRY_URL'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
  } as StackSettings;
  if (!settings.KAFKA_BROKERS) throw new Error('no stack settings (KAFKA_BROKERS): run `npx orderly stack up` first');
  return settings;
}

export const brokersOf = (settings: StackSettings) => settings.KAFKA_BROKERS.split(',');

export function benchKafka(settings: StackSettings, clientId: string): Kafka {
  return createKafkaClient({ brokers: brokersOf(settings), clientId });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export async function createBenchTopic(admin: Admin, prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

/** Publishes `count` messages built by `messageOf` (acks=all, idempotent), `batchSize` per request. */
export async function prefill(kafka: Kafka, topic: string, count: number, messageOf: (index: number) => Message, batchSize = 1_000): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const startedAt = performance.now();
  try {
    for (let start = 0; start < count; start += batchSize) {
      const messages = Array.from({ length: Math.min(batchSize, count - start) }, (_, offset) => messageOf(start + offset));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - startedAt) / 1000;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The value at percentile `p` (0-100) of `sorted` (ascending), nearest rank. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/** The 1-minute load average now (2 shared cores: above 2 the bench competed for CPU). */
export const loadNow = () => round(loadavg()[0]!, 2);

export interface Measurement {
  value: number;
  load: number;
}

export interface ArmSummary {
  median: number;
  min: number;
  max: number;
  runs: number[];
  loadAverages: number[];
}

export function summarize(measurements: Measurement[], digits = 0): ArmSummary {
  const values = measurements.map((measurement) => measurement.value);
  return {
    median: round(median(values), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    runs: values.map((value) => round(value, digits)),
    loadAverages: measurements.map((measurement) => measurement.load),
  };
}

/**
 * Runs every arm `repetitions` times, interleaved in a rotating order (repetition r starts at arm r), so a
 * drift in the machine's load falls on every arm alike. Returns each arm's measurements in repetition order.
 */
export async function interleave<Arm extends string>(arms: readonly Arm[], repetitions: number, runArm: (arm: Arm, repetition: number) => Promise<number>, unit = 'events/s'): Promise<Record<Arm, Measurement[]>> {
  const measured = Object.fromEntries(arms.map((arm) => [arm, [] as Measurement[]])) as Record<Arm, Measurement[]>;
  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    const order = arms.map((_, index) => arms[(index + repetition) % arms.length]!);
    for (const arm of order) {
      const value = await profiled(`${arm}-${repetition + 1}`, () => runArm(arm, repetition));
      const load = loadNow();
      measured[arm].push({ value, load });
      console.log(`repetition ${repetition + 1}/${repetitions} ${arm.padEnd(24)} ${value.toFixed(1)} ${unit} (load ${load})`);
    }
  }
  return measured;
}

/**
 * With BENCH_CPU_PROFILE_DIR set, records a V8 CPU profile of `run` alone (the inspector's profiler, what
 * `node --cpu-prof` writes, but one file per arm run) to `<dir>/<name>.cpuprofile`; read it with
 * bench/support/profile-summary.ts or Chrome DevTools.
 */
export async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  const directory = process.env.BENCH_CPU_PROFILE_DIR;
  if (!directory) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(directory, { recursive: true });
    writeFileSync(`${directory}/${name}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}

/** Ratio of two arms' medians, and the same ratio paired within each repetition (robust to load drift). */
export function ratios(numerator: Measurement[], denominator: Measurement[]) {
  const paired = numerator.map((measurement, index) => measurement.value / denominator[index]!.value);
  return {
    ratio: round(median(numerator.map((m) => m.value)) / median(denominator.map((m) => m.value)), 3),
    pairedMedian: round(median(paired), 3),
    pairedSpread: [round(Math.min(...paired), 3), round(Math.max(...paired), 3)] as [number, number],
  };
}

function versionOf(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${projectRoot}/node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Versions, machine and load: recorded in every result. */
export function environment<Extra extends Record<string, unknown>>(extra: Extra = {} as Extra) {
  const base = {
    machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, shared with other engineers' test runs`,
    loadAverageAtStart: loadAtStart,
    node: process.version,
    kafkajs: versionOf('kafkajs'),
    ioredis: versionOf('ioredis'),
    pino: versionOf('pino'),
    avsc: versionOf('avsc'),
    kafka: '4.2.1, one KRaft node on loopback (the local stack)',
  };
  return { ...base, ...extra };
}

/** Writes bench/results/<workload>.json and replaces the workload's section of bench/RESULTS.md. */
export function writeResults(workload: string, result: Record<string, unknown>, sectionLines: string[]): void {
  const profileDirectory = process.env.BENCH_CPU_PROFILE_DIR;
  if (profileDirectory) {
    // A profiled run is slower than a plain one: its figures stay beside the profiles, never in the results.
    writeFileSync(`${profileDirectory}/${workload}.json`, `${JSON.stringify({ workload, profiled: true, ...result }, null, 2)}\n`);
    console.log(sectionLines.join('\n'));
    return;
  }
  mkdirSync(`${projectRoot}/bench/results`, { recursive: true });
  writeFileSync(`${projectRoot}/bench/results/${workload}.json`, `${JSON.stringify({ workload, date: new Date().toISOString(), ...result }, null, 2)}\n`);
  const file = `${projectRoot}/bench/RESULTS.md`;
  const start = `<!-- ${workload}:start -->`;
  const end = `<!-- ${workload}:end -->`;
  const section = [start, ...sectionLines, end].join('\n');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\nMeasured on the local stack; each section is written by its bench script.\n';
  const startAt = previous.indexOf(start);
  const endAt = previous.indexOf(end);
  const next = startAt !== -1 && endAt > startAt ? previous.slice(0, startAt) + section + previous.slice(endAt + end.length) : `${previous.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(section);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
