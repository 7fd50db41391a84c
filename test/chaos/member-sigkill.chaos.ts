// Invariant: with one of 3 members SIGKILLed every 30 s (>= 15 kills), every event is applied exactly once, in per-key order, and no commit passes an incomplete record.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface MemberSigkillParameters {
  events: number;
  keys: number;
  partitions: number;
  kills: number;
  killIntervalMs: number;
}

/** The figures: a kill every 30 s, 15 kills (~8 minutes). */
export const fullMemberSigkill: MemberSigkillParameters = { events: 30_000, keys: 10_000, partitions: 12, kills: 15, killIntervalMs: 30_000 };

export async function memberSigkillScenario(settings: StackSettings, parameters: MemberSigkillParameters = fullMemberSigkill): Promise<ScenarioResult> {
  const run = new ChaosRun({ settings, partitions: parameters.partitions });
  try {
    await run.setUp();
    for (let member = 0; member < 3; member++) run.members.start();
    // Production spans the kills, so every kill lands on work in flight.
    const producing = run.produce(parameters.events, parameters.keys, parameters.kills * parameters.killIntervalMs * 0.8);
    let kills = 0;
    while (kills < parameters.kills) {
      await sleep(parameters.killIntervalMs);
      const killed = await run.members.kill(Math.floor(Math.random() * 3));
      kills++;
      const started = run.members.start();
      run.log(`kill ${kills}/${parameters.kills}: SIGKILL ${killed}, started ${started}; applied ${await run.sink.appliedCount()} of ${run.published} published`);
    }
    await producing;
    return await run.finish('member-sigkill', 'one of 3 members SIGKILLed repeatedly: exactly once, in order, no commit past an incomplete record', { memberSigkills: kills }, {
      killIntervalMs: parameters.killIntervalMs,
    });
  } finally {
    await run.tearDown();
  }
}

await runAsMain(import.meta, (settings) => memberSigkillScenario(settings));
