// Invariant: with the (private) broker SIGKILLed and restarted 5 times while 3 members consume, every event is applied exactly once, in per-key order, no commit passes an incomplete record, and the lag is back to 0 within 120 s of the last restart.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateStack } from './support/private-stack.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface BrokerRestartParameters {
  events: number;
  keys: number;
  partitions: number;
  kills: number;
  /** From one restart (broker answering again) to the next kill. */
  killIntervalMs: number;
}

/** The figures: a kill every 60 s (counted from the broker answering again), 5 kills. */
export const fullBrokerRestart: BrokerRestartParameters = { events: 20_000, keys: 2_000, partitions: 12, kills: 5, killIntervalMs: 60_000 };

export async function brokerRestartScenario(shared: StackSettings, parameters: BrokerRestartParameters = fullBrokerRestart): Promise<ScenarioResult> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const stack = new PrivateStack(shared);
  let run: ChaosRun | undefined;
  try {
    const settings = await stack.up();
    log(`private stack up in ${stack.dir}: kafka ${settings.KAFKA_BROKERS}, redis ${settings.REDIS_URL}`);
    run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { HANDLER_DELAY_MS: '2' } });
    await run.setUp();
    for (let member = 0; member < 3; member++) run.members.start();
    // Production spans the kills (each restart takes ~15-20 s; sends retry through it), so every kill lands on work in flight.
    const producing = run.produce(parameters.events, parameters.keys, parameters.kills * (parameters.killIntervalMs + 20_000) * 0.9, 200);
    const restartMs: number[] = [];
    let kills = 0;
    while (kills < parameters.kills) {
      await sleep(parameters.killIntervalMs);
      const pid = await stack.signal('kafka', 'SIGKILL');
      kills++;
      await sleep(2_000); // members see the broker gone, commits and fetches in flight fail
      restartMs.push(await stack.restart());
      log(`kill ${kills}/${parameters.kills}: SIGKILL broker pid ${pid}, back after ${restartMs.at(-1)} ms; applied ${await run.sink.appliedCount().catch(() => -1)} of ${run.published} published`);
    }
    await producing;
    return await run.finish('broker-restart', 'the broker SIGKILLed and restarted 5 times: exactly once, in order, no commit past an incomplete record', { brokerSigkills: kills }, {
      killIntervalMs: parameters.killIntervalMs,
      brokerRestartMs: restartMs,
    });
  } finally {
    await run?.tearDown();
    await stack.down();
  }
}

await runAsMain(import.meta, (settings) => brokerRestartScenario(settings));
