/**
 * One cluster scenario: a private three-node stack (`brokers: 3`: RF 3, min ISR 2, no unclean election), a
 * {@link ChaosRun} producing without pause (acks=all, idempotent) while three members consume and write their
 * effects to PostgreSQL, and a list of faults injected one after another, each at least `intervalMs` after the
 * previous one began and never before the cluster is whole again. Then the five counters (docs/reliability.md),
 * per fault the time to recover, and the send latency during the faults and outside them.
 */
import type { StackSettings } from '../../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './chaos-run.ts';
import { injectClusterFault, sendLatencies, type ClusterFaultKind, type FaultOutcome } from './cluster-faults.ts';
import { PrivateStack } from './private-stack.ts';

export interface ClusterScenarioParameters {
  keys: number;
  partitions: number;
  /** Events per second, produced from the start until the last fault is over. */
  eventsPerSecond: number;
  faults: readonly ClusterFaultKind[];
  /** From one fault's start to the next one's (or later: never before the cluster is whole again). */
  intervalMs: number;
  /** Production before the first fault and after the last one. @defaultValue 15000 */
  calmMs?: number;
}

/** `CLUSTER_CHAOS_FAULTS=n` runs a scenario with at most n faults (a reduced run; the result says so). */
export function faultsOf(kind: ClusterFaultKind, count: number): ClusterFaultKind[] {
  const cap = Number(process.env.CLUSTER_CHAOS_FAULTS ?? count);
  return Array.from({ length: Math.min(count, Number.isFinite(cap) && cap > 0 ? cap : count) }, () => kind);
}

export async function clusterScenario(
  shared: StackSettings,
  scenario: string,
  invariant: string,
  parameters: ClusterScenarioParameters,
  /** Checks of the scenario's own beyond the five counters: a problem each, none to pass. */
  extraChecks: (outcomes: FaultOutcome[]) => string[] = () => [],
): Promise<ScenarioResult> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const stack = new PrivateStack(shared, log, undefined, 3);
  let run: ChaosRun | undefined;
  let producing: Promise<void> | undefined;
  let stopProducing = false;
  try {
    const settings = await stack.up();
    log(`private three-node stack up in ${stack.dir}: kafka ${settings.KAFKA_BROKERS}`);
    run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { HANDLER_DELAY_MS: '2' }, sendAttempts: 600 });
    await run.setUp();
    for (let member = 0; member < 3; member++) run.members.start();
    const chaos = run;
    // Ten-second slices at the given rate, until told to stop: production spans every fault however long it takes.
    producing = (async () => {
      while (!stopProducing) await chaos.produce(parameters.eventsPerSecond * 10, parameters.keys, 10_000, Math.max(1, Math.round(parameters.eventsPerSecond / 5)));
    })();
    const calmMs = parameters.calmMs ?? 15_000;
    await sleep(calmMs);
    const outcomes: FaultOutcome[] = [];
    let nextAt = Date.now();
    for (const [index, kind] of parameters.faults.entries()) {
      if (nextAt > Date.now()) await sleep(nextAt - Date.now());
      nextAt = Date.now() + parameters.intervalMs;
      const outcome = await injectClusterFault(kind, { stack, run, log });
      outcomes.push(outcome);
      log(
        `fault ${index + 1}/${parameters.faults.length} ${kind} on node(s) ${outcome.nodes.join(',')}: whole again after ${outcome.recoverMs} ms` +
          `${outcome.consumingAgainMs === undefined ? '' : `, consuming again after ${outcome.consumingAgainMs} ms`}; applied ${await run.sink.appliedCount().catch(() => -1)} of ${run.published} published`,
      );
    }
    await sleep(calmMs);
    stopProducing = true;
    await producing;
    const problems = extraChecks(outcomes);
    for (const problem of problems) log(`PROBLEM ${problem}`);
    const recoverMsByKind: Record<string, number[]> = {};
    for (const { kind, recoverMs } of outcomes) (recoverMsByKind[kind] ??= []).push(recoverMs);
    const result = await run.finish(scenario, invariant, Object.fromEntries(Object.entries(recoverMsByKind).map(([kind, list]) => [kind, list.length])), {
      reduced: process.env.CLUSTER_CHAOS_FAULTS !== undefined,
      eventsPerSecond: parameters.eventsPerSecond,
      intervalMs: parameters.intervalMs,
      recoverMsByKind,
      consumingAgainMs: outcomes.map(({ kind, consumingAgainMs }) => ({ kind, consumingAgainMs })),
      faultDetails: outcomes.map(({ kind, nodes, details }) => ({ kind, nodes, ...details })),
      sendLatency: sendLatencies(run, outcomes),
      sendErrors: run.sendErrors,
      problems,
    });
    return { ...result, passed: result.passed && problems.length === 0 };
  } finally {
    stopProducing = true;
    await run?.tearDown();
    await stack.down();
    // A production loop still retrying against the stopped stack is left to the process exit (runAsMain).
    producing?.catch(() => undefined);
  }
}
