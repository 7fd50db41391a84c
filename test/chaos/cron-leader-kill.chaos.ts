// Invariant: three `orderly cron run` instances of a 1-second schedule, the leader SIGKILLed every 10 s for 2 minutes (a new instance started in its place), then the leader SIGSTOPped past its session timeout and continued: every slot from the first tick to the last is on the tick topic (read_committed) once, with one event id, in slot order.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { CronCluster } from '../support/cron-cluster.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { sleep } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface CronLeaderKillParameters {
  durationMs: number;
  /** 0: no kill (the steady arm of the bench). */
  killEveryMs: number;
  sessionTimeoutMs: number;
  /** Freeze the leader once at the end (SIGSTOP past the session timeout, then SIGCONT). */
  freeze: boolean;
}

export const fullCronLeaderKill: CronLeaderKillParameters = { durationMs: 120_000, killEveryMs: 10_000, sessionTimeoutMs: 6_000, freeze: true };

const quantile = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);

function latency(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50Ms: quantile(sorted, 50), p99Ms: quantile(sorted, 99), maxMs: sorted.at(-1) ?? 0 };
}

export async function cronLeaderKillScenario(settings: StackSettings, parameters: CronLeaderKillParameters = fullCronLeaderKill, log: (line: string) => void = (line) => console.log(line)): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const cluster = new CronCluster({ brokers: settings.KAFKA_BROKERS, sessionTimeoutMs: parameters.sessionTimeoutMs, log });
  await cluster.setUp();
  try {
    for (let index = 0; index < 3; index++) cluster.start();
    await cluster.waitForLeader(60_000);
    const killsAt = Date.now();
    let kills = 0;
    let killsWithoutLeader = 0;
    while (Date.now() - killsAt < parameters.durationMs) {
      if (parameters.killEveryMs <= 0) {
        await sleep(parameters.durationMs); // the steady arm: no kill
        break;
      }
      await sleep(parameters.killEveryMs);
      const leader = cluster.leader;
      if (!leader) {
        killsWithoutLeader++; // still failing over from the last kill: no leader to kill this time
        log(`no leader at ${Math.round((Date.now() - killsAt) / 1000)} s (failover in progress)`);
        continue;
      }
      await cluster.kill(leader);
      kills++;
      const replacement = cluster.start();
      log(`kill ${kills}: ${leader} SIGKILLed at ${Math.round((Date.now() - killsAt) / 1000)} s; ${replacement} started`);
    }
    let freezes = 0;
    if (parameters.freeze) {
      const frozen = await cluster.waitForLeader(60_000, Date.now() - 1_000);
      cluster.freeze(frozen);
      freezes++;
      const frozenAt = Date.now();
      await sleep(parameters.sessionTimeoutMs + 3_000);
      const successor = await cluster.waitForLeader(60_000, frozenAt);
      cluster.thaw(frozen);
      log(`${frozen} frozen ${Date.now() - frozenAt} ms while ${successor} took over, then continued`);
      await sleep(3_000);
    }
    // Let the last failover catch up before stopping.
    await cluster.waitForLeader(60_000, Date.now());
    await cluster.stopAll();

    const check = await cluster.check();
    const live = cluster.ticks.filter((tick) => tick.mode === 'live').map((tick) => tick.latenessMs);
    const catchUp = cluster.ticks.filter((tick) => tick.mode === 'catch-up').map((tick) => tick.latenessMs);
    const all = cluster.ticks.map((tick) => tick.latenessMs);
    const orderViolations = await cluster.orderViolations();
    // The slowest live ticks, with how long their leader had led (a tick right after a takeover waits for the catch-up commit).
    const slowestLive = cluster.ticks
      .filter((tick) => tick.mode === 'live')
      .sort((a, b) => b.latenessMs - a.latenessMs)
      .slice(0, 5)
      .map((tick) => {
        const since = cluster.leaderChanges.filter((change) => change.instance === tick.instance && change.at <= Date.parse(tick.slot) + tick.latenessMs).at(-1);
        return { slot: tick.slot, instance: tick.instance, latenessMs: tick.latenessMs, wokeLateMs: tick.wokeLateMs, commitMs: tick.commitMs, ledForMs: since ? Date.parse(tick.slot) - since.at : null };
      });
    // Live ticks written ahead: how late the timer woke after the slot, and how long the commit took.
    const prepared = cluster.ticks.filter((tick) => tick.mode === 'live' && tick.wokeLateMs !== undefined);
    const counters = {
      eventsLost: check.missedSlots.length,
      duplicateEffects: check.duplicates + check.slotsWithTwoIds,
      orderViolations,
      commitsPastIncomplete: 0,
      stuckPartitions: 0,
    };
    const details = {
      ticks: check.ticks,
      firstSlot: check.firstSlot,
      lastSlot: check.lastSlot,
      missedSlots: check.missedSlots.slice(0, 20),
      slotsWithTwoIds: check.slotsWithTwoIds,
      duplicatesSameId: check.duplicates,
      leaderChanges: cluster.leaderChanges.length,
      fencedPublishAttempts: cluster.fencedLines.length,
      instanceCrashes: cluster.crashes,
      killsWithoutLeader,
      latenessLive: latency(live),
      latenessCatchUp: latency(catchUp),
      latenessAll: latency(all),
      liveWokeLate: latency(prepared.map((tick) => tick.wokeLateMs!)),
      liveCommit: latency(prepared.map((tick) => tick.commitMs!)),
      slowestLive,
    };
    return {
      scenario: 'cron-leader-kill',
      invariant: 'every slot once, one event id per slot, in slot order, through leader SIGKILLs and a SIGSTOP',
      events: check.ticks,
      keys: 1,
      partitions: 3,
      faults: { sigkills: kills, sigstops: freezes },
      counters,
      details,
      durationMs: Date.now() - startedAt,
      passed: Object.values(counters).every((count) => count === 0) && cluster.crashes === 0 && check.ticks > 0,
    };
  } finally {
    await cluster.tearDown();
  }
}

await runAsMain(import.meta, (settings) => cronLeaderKillScenario(settings));
