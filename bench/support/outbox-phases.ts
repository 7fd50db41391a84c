/**
 * Where an outbox relay's claim spends its time, measured from outside the relay: its pool's clients time each
 * statement (by kind), its producer times `publishEncodedBatch`, and the CPU of this process, the PostgreSQL
 * backends and the Kafka broker is read from /proc around the run. The EventProducer-direct arm of
 * bench/outbox-relay.ts runs on the same events for comparison, and each window can be CPU-profiled.
 * Run: `node bench/support/outbox-phases.ts [--events 20000] [--batch 500] [--concurrency 2] [--arms direct,relay]
 * [--profile DIR]` (arms in the order given, repeats allowed: `direct`, `direct-concurrent`, `relay`; then
 * `node bench/support/profile-summary.ts DIR/<arm>.cpuprofile`, the last run of each arm).
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { OutboxRelay } from '../../outbox/outbox-relay.ts';
import { createOutboxTables, outboxTableNames } from '../../outbox/outbox-table.ts';
import { OutboxWriter, type OutboxEntry } from '../../outbox/outbox-writer.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { benchEventType, benchMemo } from './bench-schema.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '2' },
    profile: { type: 'string' },
    arms: { type: 'string', default: 'direct,relay' },
  },
});
const events = Number(args.events);
const batchSize = Number(args.batch);
const concurrency = Number(args.concurrency);
const profileDir = args.profile;

const settings = {
  ...readSettings(defaultStackDir()),
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL'].includes(name))),
} as Record<string, string | undefined>;
if (!settings.KAFKA_BROKERS || !settings.SCHEMA_REGISTRY_URL || !settings.DATABASE_URL) throw new Error('no stack settings: run `npx orderly stack up`');

const type = benchEventType;
const valueOf = (index: number) => ({ accountId: `account-${index % 1000}`, sequence: index, amountMinor: 1234, currency: 'EUR', memo: benchMemo });
const kafka = createKafkaClient({ brokers: settings.KAFKA_BROKERS.split(','), clientId: 'bench-outbox-phases' });
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL });
const topic = `bench-outbox-phases-${Date.now().toString(36)}`;
const table = `bench_outbox_phases_${Date.now().toString(36)}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
const pool = new pg.Pool({ connectionString: settings.DATABASE_URL, max: concurrency + 6 });
{
  const client = await pool.connect();
  await createOutboxTables(client, table);
  client.release();
}
const producer = new EventProducer({ kafka, registry, topic, autoRegister: true, maxInFlight: 1_000 });
await producer.connect();
const writer = new OutboxWriter({ registry, table, autoRegister: true });
const entry = (index: number): OutboxEntry => ({ topic, key: `account-${index % 1000}`, schema: type, event: valueOf(index) });

// --- Timings: statements by kind, publishes, and the claims they belong to. ---
interface Span {
  kind: string;
  start: number;
  end: number;
}
const spans: Span[] = [];
let recording = false;
const record = (kind: string, start: number) => {
  if (recording) spans.push({ kind, start, end: performance.now() });
};
function kindOf(text: string): string {
  const sql = text.trim().toLowerCase();
  if (sql.startsWith('begin')) return 'claim shards (begin; set; select shards ... skip locked)';
  if (sql.startsWith('select o.id')) return 'read rows (select ... payload, parsed)';
  if (sql.startsWith('delete')) return 'delete + commit';
  if (sql.startsWith('update') && sql.includes('published_partition')) return 'mark sent';
  if (sql === 'commit') return 'commit';
  if (sql === 'rollback') return 'rollback';
  return `other: ${sql.slice(0, 40)}`;
}
const instrumented = new WeakSet<object>();
/** Connect-to-release intervals: a claim's whole life, to find the time no claim runs. */
const claims: Span[] = [];
/** The PostgreSQL backends of this pool's connections (their CPU is the relay's database work). */
const backends = new Set<number>();
const connect = pool.connect.bind(pool) as (callback?: unknown) => Promise<pg.PoolClient>;
// pool.query() checks out with a callback: those pass through untimed (the relay's status loop).
(pool as unknown as { connect: (callback?: unknown) => Promise<pg.PoolClient> | undefined }).connect = (callback?: unknown) => (callback ? connect(callback) : timedConnect());
async function timedConnect(): Promise<pg.PoolClient> {
  const start = performance.now();
  const client = await connect();
  record('pool connect', start);
  // pg-pool gives each checkout its own release function.
  const release = client.release;
  client.release = (error?: Error | boolean) => {
    if (recording) claims.push({ kind: 'claim', start, end: performance.now() });
    return release(error);
  };
  if (!instrumented.has(client)) {
    instrumented.add(client);
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    backends.add(rows[0]!.pid);
    const query = client.query.bind(client) as (...params: unknown[]) => Promise<unknown>;
    (client as unknown as { query: (...params: unknown[]) => Promise<unknown> }).query = async (...params: unknown[]) => {
      const text = typeof params[0] === 'string' ? params[0] : ((params[0] as { text?: string }).text ?? '');
      const started = performance.now();
      try {
        return await query(...params);
      } finally {
        record(kindOf(text), started);
      }
    };
  }
  return client;
}
const publishEncoded = producer.publishEncodedBatch.bind(producer);
producer.publishEncodedBatch = async (batch) => {
  const start = performance.now();
  try {
    return await publishEncoded(batch);
  } finally {
    record('publish (publishEncodedBatch, acks=all)', start);
  }
};

// --- CPU of this process, the PostgreSQL backends and the broker, from /proc (clock ticks of 10 ms). ---
function processes(): { pid: number; command: string }[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        return [{ pid: Number(name), command: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') }];
      } catch {
        return [];
      }
    });
}
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
const groups = () => {
  const all = processes();
  return {
    'this process (node)': [process.pid],
    'postgres (this pool)': [...backends],
    'postgres (all, shared)': all.filter(({ command }) => command.startsWith('postgres')).map(({ pid }) => pid),
    'kafka broker (shared)': all.filter(({ command }) => command.includes('kafka.Kafka')).map(({ pid }) => pid),
  };
};
function cpuNow(pids: Record<string, number[]>): Record<string, Map<number, number>> {
  return Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, new Map(list.map((pid) => [pid, cpuSeconds(pid)]))]));
}
/** CPU seconds between two readings; a process new at the second counts whole (a backend that ended meanwhile is left out). */
function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, seconds] of after) sum += seconds - (before.get(pid) ?? 0);
  return sum;
}
/** Milliseconds of `wall` with 0, 1, 2... intervals running. */
function overlap(intervals: Span[], from: number, to: number): Map<number, number> {
  const edges = intervals.flatMap(({ start, end }) => [{ at: Math.max(from, start), delta: 1 }, { at: Math.min(to, end), delta: -1 }]).sort((left, right) => left.at - right.at || left.delta - right.delta);
  const time = new Map<number, number>();
  let running = 0;
  let last = from;
  for (const { at, delta } of edges) {
    time.set(running, (time.get(running) ?? 0) + (at - last));
    running += delta;
    last = at;
  }
  time.set(running, (time.get(running) ?? 0) + (to - last));
  return time;
}

async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!profileDir) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(`${profileDir}/${name}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}

async function fillOutbox(count: number): Promise<void> {
  for (let start = 0; start < count; start += batchSize) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await writer.addAll(client, Array.from({ length: Math.min(batchSize, count - start) }, (_, offset) => entry(start + offset)));
      await client.query('commit');
    } finally {
      client.release();
    }
  }
}

async function direct(count: number): Promise<void> {
  for (let start = 0; start < count; start += batchSize) {
    await producer.publishBatch(Array.from({ length: Math.min(batchSize, count - start) }, (_, offset) => ({ key: `account-${(start + offset) % 1000}`, schema: type, value: valueOf(start + offset) })));
  }
}

/** Milliseconds from the relay's start() call to start() resolving (tables checked, LISTEN connected). */
const startup = { started: 0 };

/** Two publishers at once on the one producer, each awaiting its batches (as two relay claims publish). */
async function directConcurrent(count: number): Promise<void> {
  const half = Math.floor(count / 2);
  await Promise.all([0, half].map(async (from) => {
    for (let start = from; start < from + half; start += batchSize) {
      const size = Math.min(batchSize, from + half - start);
      await producer.publishBatch(Array.from({ length: size }, (_, offset) => ({ key: `account-${(start + offset) % 1000}`, schema: type, value: valueOf(start + offset) })));
    }
  }));
}

async function relay(count: number): Promise<{ claims: number; drainedAt: number }> {
  let published = 0;
  let claims = 0;
  let done!: () => void;
  const drained = new Promise<void>((resolve) => (done = resolve));
  const instance = new OutboxRelay({
    pool,
    producer,
    kafka,
    table,
    concurrency,
    batchSize,
    listenConnectionString: settings.DATABASE_URL,
    onPublished: (relayed) => {
      claims++;
      published += relayed.length;
      if (published >= count) done();
    },
  });
  const startedAt = performance.now();
  await instance.start();
  startup.started = performance.now() - startedAt;
  await drained;
  const drainedAt = performance.now();
  await instance.stop();
  return { claims, drainedAt };
}

// Warm-up (JIT, connections, metadata, schema ids), not recorded.
await direct(2_000);
await fillOutbox(2_000);
await relay(2_000);

const gc = { ms: 0, count: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.ms += entry.duration;
    gc.count++;
  }
}).observe({ entryTypes: ['gc'] });

const report: string[] = [];
for (const arm of args.arms.split(',')) {
  if (arm === 'relay') await fillOutbox(events);
  const pids = groups();
  const load = loadavg()[0]!.toFixed(2);
  const cpuBefore = cpuNow(pids);
  spans.length = 0;
  claims.length = 0;
  recording = true;
  const gcBefore = { ...gc };
  const cpuOwn = process.cpuUsage();
  const started = performance.now();
  const result = await profiled(arm, () =>
    arm === 'relay' ? relay(events) : (arm === 'direct-concurrent' ? directConcurrent(events) : direct(events)).then(() => ({ claims: events / batchSize, drainedAt: performance.now() })),
  );
  const wall = result.drainedAt - started;
  recording = false;
  const cpuAfter = cpuNow(groups());
  const own = process.cpuUsage(cpuOwn);
  await new Promise((resolve) => setImmediate(resolve)); // the gc entries of the run are delivered
  report.push(`\n${arm}: ${events} events in ${wall.toFixed(0)} ms = ${((events * 1000) / wall).toFixed(0)} events/s, ${result.claims} batches, load ${load} -> ${loadavg()[0]!.toFixed(2)}`);
  report.push(`  node: ${(((own.user + own.system) / events)).toFixed(1)} us CPU per event (process.cpuUsage, every thread), gc ${(gc.ms - gcBefore.ms).toFixed(0)} ms in ${gc.count - gcBefore.count} pauses`);
  for (const name of Object.keys(cpuBefore)) {
    const seconds = cpuDelta(cpuBefore[name]!, cpuAfter[name]!);
    report.push(`  cpu ${name.padEnd(20)} ${seconds.toFixed(2)} s (${((seconds * 100_000) / wall).toFixed(0)}% of a core)`);
  }
  if (claims.length > 0) {
    const firstPublish = Math.min(...spans.filter((span) => span.kind.startsWith('publish')).map((span) => span.start));
    report.push(`  start() took ${startup.started.toFixed(0)} ms; the first publish began ${(firstPublish - started).toFixed(0)} ms after the clock started`);
    const running = [...overlap(claims, started, started + wall)].sort((left, right) => left[0] - right[0]);
    report.push(`  claims running at once, share of the wall time: ${running.map(([count, ms]) => `${count}: ${((100 * ms) / wall).toFixed(0)}%`).join(', ')}`);
    const publishes = spans.filter((span) => span.kind.startsWith('publish'));
    const sending = overlap(publishes, started, started + wall);
    report.push(`  a publish in flight ${((100 * (wall - (sending.get(0) ?? 0))) / wall).toFixed(0)}% of the wall time`);
  }
  const byKind = new Map<string, number[]>();
  for (const span of spans) byKind.set(span.kind, [...(byKind.get(span.kind) ?? []), span.end - span.start]);
  for (const [kind, durations] of [...byKind].sort((left, right) => right[1].reduce((a, b) => a + b, 0) - left[1].reduce((a, b) => a + b, 0))) {
    const sorted = [...durations].sort((left, right) => left - right);
    const total = sorted.reduce((sum, value) => sum + value, 0);
    report.push(`  ${kind.padEnd(52)} n=${String(sorted.length).padStart(4)} mean ${(total / sorted.length).toFixed(1).padStart(6)} ms  p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1).padStart(6)}  p90 ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(1).padStart(6)}  sum ${(total / 1000).toFixed(2)} s`);
  }
}
console.log(report.join('\n'));
console.log('cleaning up');

await producer.close();
console.log('producer closed');
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
console.log('admin closed');
const names = outboxTableNames(table);
await pool.query(`drop table if exists ${names.table}, ${names.shards}`);
await pool.query(`drop function if exists ${names.notifyFunction}()`);
await pool.end();
console.log('pool ended');
await fetch(`${registry.url}/subjects/${topic}-value`, { method: 'DELETE' }).catch(() => undefined);
await fetch(`${registry.url}/subjects/${topic}-value?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
