/**
 * Cron ticks: three `orderly cron run` instances of a 1-second schedule, in two arms run one after the other:
 * **steady** (BENCH_CRON_STEADY_MS, default 60 s, no fault) and **kill** (the leader SIGKILLed every 10 s for
 * BENCH_CRON_DURATION_MS, default 2 minutes, a new instance started in its place, then the leader SIGSTOPped past
 * its session timeout and continued: the chaos scenario cron-leader-kill).
 * Lateness = a tick's commit time minus its slot, as the leader measured it; `live` ticks came due while their
 * leader led, `catch-up` ticks were missed during a failover and published by the successor.
 * Goals (the kill arm): live lateness p99 <= 100 ms, 0 missed slots, 0 double ticks (two records or two ids for a slot).
 * Run: `npm run bench -- cron-ticks`.
 */
import type { ScenarioResult } from '../test/chaos/support/chaos-run.ts';
import { cronLeaderKillScenario, fullCronLeaderKill } from '../test/chaos/cron-leader-kill.chaos.ts';
import { benchSettings, environment, loadNow, writeResults } from './support/bench-kit.ts';

const durationMs = Number(process.env.BENCH_CRON_DURATION_MS ?? fullCronLeaderKill.durationMs);
const steadyMs = Number(process.env.BENCH_CRON_STEADY_MS ?? 60_000);
const goals = { liveLatenessP99Ms: 100, missedSlots: 0, doubleTicks: 0 };
const settings = benchSettings();
const log = (line: string) => console.log(line);

interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}
interface Details {
  ticks: number;
  slotsWithTwoIds: number;
  duplicatesSameId: number;
  leaderChanges: number;
  fencedPublishAttempts: number;
  killsWithoutLeader: number;
  latenessLive: Latency;
  latenessCatchUp: Latency;
  latenessAll: Latency;
  liveWokeLate: Latency;
  liveCommit: Latency;
  slowestLive: unknown[];
}

async function arm(name: 'steady' | 'kill') {
  const loadAtStart = loadNow();
  const result: ScenarioResult = await cronLeaderKillScenario(
    settings,
    name === 'steady' ? { ...fullCronLeaderKill, durationMs: steadyMs, killEveryMs: 0, freeze: false } : { ...fullCronLeaderKill, durationMs },
    log,
  );
  const details = result.details as unknown as Details;
  return { name, loadAtStart, loadAtEnd: loadNow(), result, details, missedSlots: result.counters.eventsLost, doubleTicks: details.duplicatesSameId + details.slotsWithTwoIds };
}

const loadAtStart = loadNow();
const steady = await arm('steady');
const kill = await arm('kill');
const met = {
  liveLatenessP99: kill.details.latenessLive.p99Ms <= goals.liveLatenessP99Ms,
  missedSlots: kill.missedSlots === 0 && steady.missedSlots === 0,
  doubleTicks: kill.doubleTicks === 0 && steady.doubleTicks === 0,
};
const setup = environment({
  loadAverageAtStart: loadAtStart,
  schedule: '* * * * * * (every second), UTC, missed slots: catch-up (maxCatchUp 100)',
  instances: '3 `orderly cron run` processes (Node, from source), session timeout 6000 ms, heartbeat 500 ms',
  arms: `steady: ${steadyMs / 1000} s, no fault; kill: the leader SIGKILLed every 10 s for ${durationMs / 1000} s (a new instance started each time), then one SIGSTOP past the session timeout`,
  tickTopic: '3 partitions; ticks read back read_committed',
  loadAverageAtEnd: loadNow(),
});
const row = (label: string, entry: Latency) => `| ${label} | ${entry.count} | ${entry.p50Ms} | ${entry.p99Ms} | ${entry.maxMs} |`;
const summary = (entry: Awaited<ReturnType<typeof arm>>) => ({
  loadAverageAtStart: entry.loadAtStart,
  loadAverageAtEnd: entry.loadAtEnd,
  faults: entry.result.faults,
  counters: entry.result.counters,
  missedSlots: entry.missedSlots,
  doubleTicks: entry.doubleTicks,
  details: entry.details,
});
writeResults(
  'cron-ticks',
  { setup, goal: goals, met: met.liveLatenessP99 && met.missedSlots && met.doubleTicks, goals: met, arms: { steady: summary(steady), kill: summary(kill) } },
  [
    '## Cron ticks through leader kills (`npm run bench -- cron-ticks`)',
    '',
    `${String(setup.machine)}; Node ${String(setup.node)}; kafkajs ${String(setup.kafkajs)}; Kafka ${String(setup.kafka)}. ${setup.instances}; ${setup.schedule}. Arms, one after the other in one run: ${setup.arms}. ${Math.max(steady.loadAtStart, steady.loadAtEnd, kill.loadAtStart, kill.loadAtEnd) > 4 ? "**The machine was heavily loaded by other engineers' runs**: load average" : 'Load average'} ${steady.loadAtStart} to ${steady.loadAtEnd} during the steady arm, ${kill.loadAtStart} to ${kill.loadAtEnd} during the kill arm (2 cores). Measured ${new Date().toISOString().slice(0, 10)}${durationMs === fullCronLeaderKill.durationMs ? '' : `, at reduced size (${durationMs / 1000} s of kills instead of 120 s)`}.`,
    '',
    '| arm: ticks (lateness = commit time - slot) | count | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    row('steady: live', steady.details.latenessLive),
    row('kill: live (came due while the leader led)', kill.details.latenessLive),
    row('kill: catch-up (missed during a failover)', kill.details.latenessCatchUp),
    row('kill: all', kill.details.latenessAll),
    '',
    `Where a live tick's lateness comes from (ticks written ahead, committed at the slot): its timer woke after the slot by p50 ${steady.details.liveWokeLate.p50Ms} / p99 ${steady.details.liveWokeLate.p99Ms} / max ${steady.details.liveWokeLate.maxMs} ms (steady) and ${kill.details.liveWokeLate.p50Ms} / ${kill.details.liveWokeLate.p99Ms} / ${kill.details.liveWokeLate.maxMs} ms (kill); the commit took p50 ${steady.details.liveCommit.p50Ms} / p99 ${steady.details.liveCommit.p99Ms} / max ${steady.details.liveCommit.maxMs} ms (steady) and ${kill.details.liveCommit.p50Ms} / ${kill.details.liveCommit.p99Ms} / ${kill.details.liveCommit.maxMs} ms (kill). A tick is never committed before its slot (the timer is re-armed while the clock reads before it).`,
    '',
    `**Kill arm: ${kill.details.ticks} ticks on the topic, ${kill.result.faults.sigkills} SIGKILLs and ${kill.result.faults.sigstops} SIGSTOP; missed slots ${kill.missedSlots} (goal 0: ${kill.missedSlots === 0 ? 'met' : 'NOT met'}); double ticks ${kill.doubleTicks} (same id ${kill.details.duplicatesSameId}, two ids ${kill.details.slotsWithTwoIds}; goal 0: ${kill.doubleTicks === 0 ? 'met' : 'NOT met'}); live lateness p99 ${kill.details.latenessLive.p99Ms} ms (goal <= 100 ms: ${met.liveLatenessP99 ? 'met' : 'NOT met'}).** Steady arm: ${steady.details.ticks} ticks, missed ${steady.missedSlots}, double ${steady.doubleTicks}.`,
    '',
    `Kill arm: ${kill.details.leaderChanges} leader changes, ${kill.details.fencedPublishAttempts} publish(es) of the frozen leader refused by the broker (fenced). Catch-up ticks are as late as the failover is long: a SIGKILLed leader keeps the schedule until its session times out (6 s), so the p99 over all ticks cannot be within 100 ms with a 6 s session (docs/scheduling.md, "Limits"). Slowest live ticks (ledForMs: how long their leader had led at the slot): ${JSON.stringify(kill.details.slowestLive)}.`,
  ],
);
process.exit(kill.result.passed && steady.result.passed && met.liveLatenessP99 ? 0 : 1);
