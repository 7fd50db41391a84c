// Invariant: a member SIGSTOPped past its session timeout (10 cycles) has its late work fenced: no duplicate effect, no commit from its stale generation accepted (no committed offset goes back, none passes an incomplete record).
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface MemberSigstopParameters {
  events: number;
  keys: number;
  partitions: number;
  cycles: number;
  sessionTimeoutMs: number;
}

export const fullMemberSigstop: MemberSigstopParameters = { events: 20_000, keys: 2_000, partitions: 12, cycles: 10, sessionTimeoutMs: 6_000 };

export async function memberSigstopScenario(settings: StackSettings, parameters: MemberSigstopParameters = fullMemberSigstop): Promise<ScenarioResult> {
  // Slow handlers (20 ms) so a stopped member always holds records in flight when it is frozen.
  const run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { SESSION_TIMEOUT_MS: String(parameters.sessionTimeoutMs), HANDLER_DELAY_MS: '20' } });
  try {
    await run.setUp();
    for (let member = 0; member < 3; member++) run.members.start();
    const frozenMs = parameters.sessionTimeoutMs + 4_000;
    const cycleMs = frozenMs + 5_000;
    const producing = run.produce(parameters.events, parameters.keys, parameters.cycles * cycleMs * 0.8);
    await sleep(5_000);
    for (let cycle = 1; cycle <= parameters.cycles; cycle++) {
      const index = Math.floor(Math.random() * 3);
      const name = run.members.pause(index);
      await sleep(frozenMs); // past the session timeout: the group rebalances without it
      run.members.resume(index);
      run.log(`cycle ${cycle}/${parameters.cycles}: ${name} frozen ${frozenMs} ms, then continued; applied ${await run.sink.appliedCount()} of ${run.published}`);
      await sleep(5_000);
    }
    await producing;
    const result = await run.finish('member-sigstop', 'a member frozen past its session timeout: late work fenced, no stale commit accepted', { memberSigstops: parameters.cycles }, {
      frozenMs,
      sessionTimeoutMs: parameters.sessionTimeoutMs,
    });
    // A stale generation's commit that the broker accepted shows as a committed offset going back (or past an incomplete record).
    result.details.staleCommitsAccepted = result.details.committedOffsetRegressions;
    result.passed &&= result.details.committedOffsetRegressions === 0;
    return result;
  } finally {
    await run.tearDown();
  }
}

await runAsMain(import.meta, (settings) => memberSigstopScenario(settings));
