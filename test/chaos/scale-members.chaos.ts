// Invariant: scaling the group 1 -> 3 -> 1 members again and again (20 rebalances) with backpressure pauses active loses nothing, applies nothing twice and keeps per-key order.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface ScaleMembersParameters {
  events: number;
  keys: number;
  partitions: number;
  rebalances: number;
  stepMs: number;
}

/** The figures: a step every 15 s, 20 rebalances (~5 minutes). */
export const fullScaleMembers: ScaleMembersParameters = { events: 30_000, keys: 3_000, partitions: 12, rebalances: 20, stepMs: 15_000 };

export async function scaleMembersScenario(settings: StackSettings, parameters: ScaleMembersParameters = fullScaleMembers): Promise<ScenarioResult> {
  // Small watermarks: partitions pause and resume all the time, across every rebalance.
  const run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { PARTITION_HIGH_WATERMARK: '20', PARTITION_LOW_WATERMARK: '5', HANDLER_DELAY_MS: '5' } });
  try {
    await run.setUp();
    run.members.start();
    const producing = run.produce(parameters.events, parameters.keys, parameters.rebalances * parameters.stepMs * 0.85);
    let steps = 0;
    while (steps < parameters.rebalances) {
      await sleep(parameters.stepMs);
      if (run.members.running.length === 1) {
        run.members.start();
        run.members.start();
      } else {
        await Promise.all([run.members.stop(2), run.members.stop(1)]);
      }
      steps++;
      run.log(`step ${steps}/${parameters.rebalances}: ${run.members.running.length} members; applied ${await run.sink.appliedCount()} of ${run.published}`);
    }
    await producing;
    return await run.finish('scale-members', 'scaling 1 -> 3 -> 1 with backpressure pauses: exactly once, in order', { scaleSteps: steps }, { stepMs: parameters.stepMs });
  } finally {
    await run.tearDown();
  }
}

await runAsMain(import.meta, (settings) => scaleMembersScenario(settings));
