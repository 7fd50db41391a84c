// Invariant: on a three-node cluster (RF 3, min ISR 2), a rolling restart of all three brokers (SIGTERM, start, full ISR, next) while producing (acks=all) and 3 members consume: every acknowledged event is applied exactly once, in per-key order, no commit passes an incomplete record, and the lag is back to 0 within 120 s of the last restart.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { clusterScenario } from './support/cluster-scenario.ts';
import { runAsMain } from './support/scenario-main.ts';

export function clusterRollingRestartScenario(shared: StackSettings): Promise<ScenarioResult> {
  return clusterScenario(shared, 'cluster-rolling-restart', 'all three brokers restarted one after another while producing and consuming: exactly once, in order, lag 0 within 120 s', {
    keys: 1_000,
    partitions: 6,
    eventsPerSecond: 50,
    faults: ['rolling-restart'],
    intervalMs: 20_000,
  });
}

await runAsMain(import.meta, clusterRollingRestartScenario);
