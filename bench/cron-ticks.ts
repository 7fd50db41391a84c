/**
 * Cron ticks through a leader-kill run: three `orderly cron run` instances of a 1-second schedule, the leader
 * SIGKILLed every 10 s for BENCH_CRON_DURATION_MS (default 2 minutes; a new instance started in its place),
 * then the leader SIGSTOPped past its session timeout and continued (the chaos scenario cron-leader-kill).
 * Lateness = a tick's commit time minus its slot, as the leader measured it; `live` ticks came due while their
 * leader led, `catch-up` ticks were missed during a failover and published by the successor.
 * Goals: live lateness p99 <= 100 ms, 0 missed slots, 0 double ticks (two records or two ids for one slot).
 * Run: `npm run bench -- cron-ticks`.
 */
import { cronLeaderKillScenario, fullCronLeaderKill } from '../test/chaos/cron-leader-kill.chaos.ts';
import { benchSettings, environment, loadNow, writeResults } from './support/bench-kit.ts';

const durationMs = Number(process.env.BENCH_CRON_DURATION_MS ?? fullCronLeaderKill.durationMs);
const goals = { liveLatenessP99Ms: 100, missedSlots: 0, doubleTicks: 0 };
const settings = benchSettings();
const loadAtStart = loadNow();
const result = await cronLeaderKillScenario(settings, { ...fullCronLeaderKill, durationMs }, (line) => console.log(line));
const details = result.details as {
  ticks: number;
  missedSlots: string[];
  slotsWithTwoIds: number;
  duplicatesSameId: number;
  leaderChanges: number;
  fencedPublishAttempts: number;
  killsWithoutLeader: number;
  latenessLive: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  latenessCatchUp: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  latenessAll: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
};
const missedSlots = result.counters.eventsLost;
const doubleTicks = details.duplicatesSameId + details.slotsWithTwoIds;
const met = {
  liveLatenessP99: details.latenessLive.p99Ms <= goals.liveLatenessP99Ms,
  missedSlots: missedSlots === goals.missedSlots,
  doubleTicks: doubleTicks === goals.doubleTicks,
};
const setup = environment({
  loadAverageAtStart: loadAtStart,
  schedule: '* * * * * * (every second), UTC, missed slots: catch-up (maxCatchUp 100)',
  instances: '3 `orderly cron run` processes (Node, from source), session timeout 6000 ms, heartbeat 500 ms',
  faults: `leader SIGKILLed every 10 s for ${durationMs / 1000} s (${result.faults.sigkills} kills, a new instance started each time), then one SIGSTOP past the session timeout`,
  tickTopic: '3 partitions; ticks read back read_committed',
  loadAverageAtEnd: loadNow(),
});
const fmt = (entry: { count: number; p50Ms: number; p99Ms: number; maxMs: number }) => `${entry.count} | ${entry.p50Ms} | ${entry.p99Ms} | ${entry.maxMs}`;
writeResults(
  'cron-ticks',
  { setup, goal: goals, met: met.liveLatenessP99 && met.missedSlots && met.doubleTicks, goals: met, durationMs, faults: result.faults, counters: result.counters, details },
  [
    '## Cron ticks through leader kills (`npm run bench -- cron-ticks`)',
    '',
    `${String(setup.machine)}; Node ${String(setup.node)}; kafkajs ${String(setup.kafkajs)}; Kafka ${String(setup.kafka)}. ${setup.instances}; ${setup.schedule}; ${setup.faults}. The machine was loaded by other engineers' runs: load average ${loadAtStart} at the start, ${String(setup.loadAverageAtEnd)} at the end. Measured ${new Date().toISOString().slice(0, 10)}${durationMs === fullCronLeaderKill.durationMs ? '' : ` at reduced size (${durationMs / 1000} s of kills instead of 120 s)`}.`,
    '',
    '| ticks: lateness = commit time - slot | count | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    `| live (came due while the leader led) | ${fmt(details.latenessLive)} |`,
    `| catch-up (missed during a failover) | ${fmt(details.latenessCatchUp)} |`,
    `| all | ${fmt(details.latenessAll)} |`,
    '',
    `**${details.ticks} ticks on the topic; missed slots ${missedSlots} (goal 0: ${met.missedSlots ? 'met' : 'NOT met'}); double ticks ${doubleTicks} (same id ${details.duplicatesSameId}, two ids ${details.slotsWithTwoIds}; goal 0: ${met.doubleTicks ? 'met' : 'NOT met'}); live lateness p99 ${details.latenessLive.p99Ms} ms (goal <= 100 ms: ${met.liveLatenessP99 ? 'met' : 'NOT met'}).**`,
    '',
    `${details.leaderChanges} leader changes, ${details.fencedPublishAttempts} publish(es) of a deposed leader refused by the broker (fenced), ${details.killsWithoutLeader} kill time(s) with no leader to kill (a failover still running). Catch-up ticks are as late as the failover is long: a SIGKILLed leader keeps the schedule until its session times out (6 s), so the p99 over all ticks is not within 100 ms and cannot be with a 6 s session; see docs/scheduling.md.`,
  ],
);
process.exit(result.passed && met.liveLatenessP99 ? 0 : 1);
