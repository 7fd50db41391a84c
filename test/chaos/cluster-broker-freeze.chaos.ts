// Invariant: on a three-node cluster (RF 3, min ISR 2), the leader of the busiest partition frozen (SIGSTOP) for 30 s, then continued, while producing (acks=all) and 3 members consume: every acknowledged event is applied exactly once, in per-key order, no commit passes an incomplete record, and the lag is back to 0 within 120 s of the thaw.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { clusterScenario } from './support/cluster-scenario.ts';
import { runAsMain } from './support/scenario-main.ts';

export function clusterBrokerFreezeScenario(shared: StackSettings): Promise<ScenarioResult> {
  return clusterScenario(shared, 'cluster-broker-freeze', 'one broker (the busiest partition\'s leader) frozen for 30 s: exactly once, in order, lag 0 within 120 s', {
    keys: 1_000,
    partitions: 6,
    eventsPerSecond: 50,
    faults: ['broker-freeze'],
    intervalMs: 20_000,
  });
}

await runAsMain(import.meta, clusterBrokerFreezeScenario);
