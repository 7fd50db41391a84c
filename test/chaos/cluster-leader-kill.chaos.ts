// Invariant: on a three-node cluster (RF 3, min ISR 2), with the leader of the busiest partition SIGKILLed every 20 s (10 times) and brought back, while producing (acks=all) and 3 members consume: every acknowledged event is applied exactly once, in per-key order, no commit passes an incomplete record, and the lag is back to 0 within 120 s of the last fault.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { clusterScenario, faultsOf } from './support/cluster-scenario.ts';
import { runAsMain } from './support/scenario-main.ts';

export function clusterLeaderKillScenario(shared: StackSettings): Promise<ScenarioResult> {
  return clusterScenario(shared, 'cluster-leader-kill', 'the busiest partition\'s leader SIGKILLed every 20 s, 10 times: exactly once, in order, no commit past an incomplete record, lag 0 within 120 s', {
    keys: 1_000,
    partitions: 6,
    eventsPerSecond: 50,
    faults: faultsOf('leader-kill', 10),
    intervalMs: 20_000,
  });
}

await runAsMain(import.meta, clusterLeaderKillScenario);
