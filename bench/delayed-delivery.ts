/**
 * Delayed delivery: BENCH_DELAYED events (default 10,000) over 1,000 keys, due over 60 s (one every 6 ms, so each
 * key's events are due in the order they were sent, the first 10 s after sending), then a backlog of BENCH_BACKLOG
 * plain events (default 20,000) published behind them, which drains while they wait. Overshoot = handler start - `orderly-deliver-at`. Goals: 0 early, overshoot p50 ≤ 25
 * ms, p99 ≤ 150 ms. Two arms, each with its own topics and group, members in their own processes (the consumer
 * settings of bench/support/delayed-worker.ts): **steady** (two members throughout) and **kill** (two members,
 * one SIGKILLed 25 s into the due window, a new one started at once). Delay levels [10 s, 5 min]: events due
 * within 15 s are held in memory, later ones wait on level 1 and come back.
 * Run: `npm run bench -- delayed-delivery` (BENCH_DELAYED, BENCH_BACKLOG).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ensureTopicLayout } from '../consumers/retries/topic-layout.ts';
import { benchKafka, benchSettings, environment, loadNow, percentile, prefill, sleep, uniqueName, writeResults } from './support/bench-kit.ts';

const delayed = Number(process.env.BENCH_DELAYED ?? 10_000);
const backlog = Number(process.env.BENCH_BACKLOG ?? 20_000);
const keys = 1_000;
/**
 * `separate` (default): the backlog is on other keys than the delayed events, so its drain competes for handler
 * slots, fetches and watermarks but never holds a delayed event back by per-key order. `shared`: the backlog is on
 * the delayed events' keys, 20 per key: an event waits for its key's backlog events only when they
 * were published before it (not here): they share handler lanes.
 */
const backlogKeys = process.env.BENCH_BACKLOG_KEYS === 'shared' ? 'shared' : 'separate';
const windowMs = 60_000;
const partitions = 4;
const levelsMs = [10_000, 300_000];
const goals = { early: 0, overshootP50Ms: 25, overshootP99Ms: 150 };

const settings = benchSettings();
const kafka = benchKafka(settings, 'bench-delayed');
const admin = kafka.admin();
await admin.connect();
const redis = new Redis(settings.REDIS_URL);
const worker = fileURLToPath(new URL('support/delayed-worker.ts', import.meta.url));

type Arm = 'steady' | 'kill';

interface ArmResult {
  arm: Arm;
  delayed: number;
  handled: number;
  lost: number;
  early: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The same, for the events due more than 15 s after they were sent (through a delay level). */
  viaLevelP99Ms: number;
  killedAtS?: number;
  /** The events slower than p99: how many came due in each 5 s of the due window (seconds from its start). */
  tailByDueS: Record<string, number>;
  load: number;
}

function startMember(topic: string, groupId: string, results: string, member: string): ChildProcess {
  const child = spawn(process.execPath, [worker], {
    env: { ...process.env, KAFKA_BROKERS: settings.KAFKA_BROKERS, REDIS_URL: settings.REDIS_URL, TOPIC: topic, GROUP: groupId, RESULTS: results, MEMBER: member, DELAY_LEVELS: levelsMs.join(',') },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

async function run(arm: Arm): Promise<ArmResult> {
  const topic = uniqueName('bench-delayed');
  const groupId = uniqueName('bench-delayed-group');
  const results = uniqueName('bench-delayed-results');
  const layout = await ensureTopicLayout(admin, { topic, groupId, tierCount: 0, delayLevelCount: levelsMs.length, partitions });
  const members = [startMember(topic, groupId, results, 'a'), startMember(topic, groupId, results, 'b')];
  // The delayed events first (written durably at once, due from 10 s on), then the backlog of plain events: it
  // drains while the delayed ones wait (held or on a level) and come due.
  const sentAt = Date.now();
  const firstDue = sentAt + 10_000;
  const dueOf = (index: number) => firstDue + Math.floor((index * windowMs) / delayed);
  await prefill(kafka, topic, delayed, (index) => ({ key: `key-${index % keys}`, value: JSON.stringify({ index }), headers: { 'orderly-event-id': `delayed-${index}`, 'orderly-deliver-at': String(dueOf(index)) } }), 1_000);
  await prefill(kafka, topic, backlog, (index) => ({ key: `${backlogKeys === 'shared' ? 'key' : 'backlog-key'}-${index % keys}`, value: JSON.stringify({ index }), headers: { 'orderly-event-id': `backlog-${index}` } }), 2_000);
  let killedAtS: number | undefined;
  if (arm === 'kill') {
    await sleep(Math.max(0, firstDue + 25_000 - Date.now()));
    members[0]!.kill('SIGKILL');
    killedAtS = 25;
    members.push(startMember(topic, groupId, results, 'c'));
  }
  // Everything due, plus time for a failover (session timeout 6 s) and the last level check.
  const deadline = firstDue + windowMs + 60_000;
  while (Date.now() < deadline && (await redis.hlen(results)) < delayed) await sleep(500);
  const times = await redis.hgetall(results);
  for (const member of members) member.kill('SIGTERM');
  await Promise.all(members.map((member) => new Promise((resolve) => (member.exitCode !== null || member.signalCode !== null ? resolve(undefined) : member.once('exit', resolve)))));
  await redis.del(results);
  await admin.deleteTopics({ topics: layout }).catch(() => undefined);
  const overshoots: number[] = [];
  const viaLevel: number[] = [];
  for (const [eventId, at] of Object.entries(times)) {
    const index = Number(eventId.slice('delayed-'.length));
    const overshoot = Number(at) - dueOf(index);
    overshoots.push(overshoot);
    if (dueOf(index) - sentAt > levelsMs[0]! + 5_000) viaLevel.push(overshoot);
  }
  const byDue = Object.entries(times).map(([eventId, at]) => {
    const due = dueOf(Number(eventId.slice('delayed-'.length)));
    return { due, overshoot: Number(at) - due };
  });
  overshoots.sort((a, b) => a - b);
  viaLevel.sort((a, b) => a - b);
  const tailByDueS: Record<string, number> = {};
  for (const { due, overshoot } of byDue) {
    if (overshoot <= percentile(overshoots, 99)) continue;
    const bucket = String(Math.floor((due - firstDue) / 5_000) * 5);
    tailByDueS[bucket] = (tailByDueS[bucket] ?? 0) + 1;
  }
  const result: ArmResult = {
    arm,
    delayed,
    handled: overshoots.length,
    lost: delayed - overshoots.length,
    early: overshoots.filter((overshoot) => overshoot < 0).length,
    p50Ms: percentile(overshoots, 50),
    p90Ms: percentile(overshoots, 90),
    p99Ms: percentile(overshoots, 99),
    maxMs: overshoots.at(-1) ?? 0,
    viaLevelP99Ms: percentile(viaLevel, 99),
    ...(killedAtS === undefined ? {} : { killedAtS }),
    tailByDueS,
    load: loadNow(),
  };
  console.log(JSON.stringify(result));
  return result;
}

const arms: ArmResult[] = [];
// BENCH_ARMS=steady (or kill) runs one arm only.
const armsToRun = (process.env.BENCH_ARMS ?? 'steady,kill').split(',').filter((arm): arm is Arm => arm === 'steady' || arm === 'kill');
for (const arm of armsToRun) arms.push(await run(arm));
await admin.disconnect();
await redis.quit();

const metOf = (result: ArmResult) => ({ none: result.early === 0 && result.lost === 0, p50: result.p50Ms <= goals.overshootP50Ms, p99: result.p99Ms <= goals.overshootP99Ms });
const setup = environment({
  delayed,
  backlog,
  backlogKeys,
  keys,
  windowMs,
  partitions,
  members: 2,
  orderly: `delayLevelsMs [${levelsMs.join(', ')}] (held in memory within 15 s), concurrency 100, a 1 ms handler, RedisIdempotencyStore, RedisParkingStore, sessionTimeoutMs 6000`,
  loadAverageAtEnd: loadNow(),
});
const verdict = (result: ArmResult) => {
  const met = metOf(result);
  return `0 early and none lost: ${met.none ? 'met' : `missed (${result.early} early, ${result.lost} lost)`}; p50 ${result.p50Ms} ms (goal ≤ ${goals.overshootP50Ms}: ${met.p50 ? 'met' : 'missed'}), p99 ${result.p99Ms} ms (goal ≤ ${goals.overshootP99Ms}: ${met.p99 ? 'met' : 'missed'})`;
};
writeResults(
  'delayed-delivery',
  {
    setup,
    arms,
    goal: goals,
    met: Object.fromEntries(arms.map((result) => [result.arm, metOf(result)])),
    goalMet: arms.every((result) => Object.values(metOf(result)).every(Boolean)),
  },
  [
    '## Delayed delivery (`npm run bench -- delayed-delivery`)',
    '',
    `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}; Kafka ${setup.kafka}. ${delayed} delayed events over ${keys} keys and ${partitions} partitions, due over ${windowMs / 1000} s (from 10 s after they are sent; each key's in send order), then a backlog of ${backlog} plain events published behind them that drains while they wait (${backlogKeys === 'shared' ? 'on the same keys' : `on ${keys} other keys`}); two members in their own processes; ${setup.orderly}. Overshoot = handler start minus \`orderly-deliver-at\`, first handling of each event. Arm **kill**: member a SIGKILLed 25 s into the due window, member c started at once. Load average at the start ${setup.loadAverageAtStart.join(', ')}, at the end ${setup.loadAverageAtEnd}. Measured ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| arm | handled | lost | early | p50 ms | p90 ms | p99 ms | max ms | p99 via a level, ms | load average |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...arms.map((result) => `| ${result.arm} | ${result.handled} | ${result.lost} | ${result.early} | ${result.p50Ms} | ${result.p90Ms} | ${result.p99Ms} | ${result.maxMs} | ${result.viaLevelP99Ms} | ${result.load} |`),
    '',
    ...arms.map((result) => `**${result.arm}: ${verdict(result)}.**`),
  ],
);
process.exit(0);
