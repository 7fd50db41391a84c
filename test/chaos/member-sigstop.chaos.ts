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
  // Slow handlers (200 ms) so a stopped member always holds records in flight when it is frozen. Claim leases
  // (4 s) shorter than the freeze: the member that takes the partition over claims the frozen member's
  // in-flight events and handles them, so the frozen member's late work meets a lost claim and a new generation.
  const memberEnv = { SESSION_TIMEOUT_MS: String(parameters.sessionTimeoutMs), HANDLER_DELAY_MS: '200', HANDLER_TIMEOUT_MS: '1500', LEASE_MS: '4000' };
  const run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv });
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
      leaseMs: Number(memberEnv.LEASE_MS),
    });
    // Late work of a frozen member: attempts that woke past their deadline, completions refused by a lost claim
    // (fenced), records given up because the member's generation had changed (abandoned).
    const counters = result.details.memberCounters as Record<string, number>;
    const lateWork = { handlerTimedOut: counters.handlerTimedOut ?? 0, fenced: counters.fenced ?? 0, abandoned: counters.abandoned ?? 0 };
    result.details.lateWork = lateWork;
    result.passed &&= lateWork.handlerTimedOut + lateWork.fenced + lateWork.abandoned > 0;
    // A stale generation's commit that the broker accepted shows as a committed offset going back (or past an incomplete record).
    result.details.staleCommitsAccepted = result.details.committedOffsetRegressions;
    result.passed &&= result.details.committedOffsetRegressions === 0;
    return result;
  } finally {
    await run.tearDown();
  }
}

await runAsMain(import.meta, (settings) => memberSigstopScenario(settings));
