// Invariant: on a three-node cluster (RF 3, min ISR 2), two brokers SIGKILLed at once for 30 s: no send is acknowledged while only one replica lives (producers block or fail loudly and retry), nothing acknowledged is lost, consumption resumes once one broker is back, and every event is applied exactly once, in per-key order, lag 0 within 120 s.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { clusterScenario } from './support/cluster-scenario.ts';
import { runAsMain } from './support/scenario-main.ts';

export function clusterTwoDownScenario(shared: StackSettings): Promise<ScenarioResult> {
  return clusterScenario(
    shared,
    'cluster-two-down',
    'two of three brokers down for 30 s: nothing acknowledged below min ISR, nothing lost, consumption resumes with one back, exactly once, in order',
    { keys: 1_000, partitions: 6, eventsPerSecond: 50, faults: ['two-down'], intervalMs: 20_000 },
    (outcomes) =>
      outcomes.flatMap(({ details, consumingAgainMs }) => [
        ...(Number(details?.acknowledgedWhileDown ?? 0) > 0 ? [`${String(details?.acknowledgedWhileDown)} send(s) acknowledged while two of three brokers were down (min ISR 2)`] : []),
        ...(consumingAgainMs === undefined ? ['consumption did not resume after one broker came back'] : []),
      ]),
  );
}

await runAsMain(import.meta, clusterTwoDownScenario);
