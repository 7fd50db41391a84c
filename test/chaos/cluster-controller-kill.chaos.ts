// Invariant: on a three-node cluster (combined broker+controller nodes), the node leading the KRaft controller quorum SIGKILLed 3 times (a new quorum leader is elected, the node brought back) while producing (acks=all) and 3 members consume: every acknowledged event is applied exactly once, in per-key order, no commit passes an incomplete record, and the lag is back to 0 within 120 s of the last fault.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { clusterScenario, faultsOf } from './support/cluster-scenario.ts';
import { runAsMain } from './support/scenario-main.ts';

export function clusterControllerKillScenario(shared: StackSettings): Promise<ScenarioResult> {
  return clusterScenario(
    shared,
    'cluster-controller-kill',
    'the controller quorum leader SIGKILLed 3 times: a new leader elected each time, exactly once, in order, lag 0 within 120 s',
    { keys: 1_000, partitions: 6, eventsPerSecond: 50, faults: faultsOf('controller-kill', 3), intervalMs: 20_000 },
    (outcomes) => outcomes.flatMap(({ details, nodes }) => (details?.newQuorumLeader === -1 || details?.newQuorumLeader === nodes[0] ? [`no new quorum leader after node ${nodes[0]} was killed`] : [])),
  );
}

await runAsMain(import.meta, clusterControllerKillScenario);
