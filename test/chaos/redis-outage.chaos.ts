// Invariant: with the (private, AOF on) redis-server SIGKILLed and restarted 5 times and down twice for 30 s, members apply nothing and commit nothing while it is down, then resume: exactly once, in per-key order, no commit past an incomplete record.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateStack } from './support/private-stack.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface RedisOutageParameters {
  events: number;
  keys: number;
  partitions: number;
  kills: number;
  killIntervalMs: number;
  outages: number;
  outageMs: number;
}

export const fullRedisOutage: RedisOutageParameters = { events: 20_000, keys: 2_000, partitions: 12, kills: 5, killIntervalMs: 8_000, outages: 2, outageMs: 30_000 };

/** Work already past Redis when it went away (a handler running, a commit in flight) may finish in this grace. */
const outageGraceMs = 3_000;

export async function redisOutageScenario(shared: StackSettings, parameters: RedisOutageParameters = fullRedisOutage): Promise<ScenarioResult> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const stack = new PrivateStack(shared);
  let run: ChaosRun | undefined;
  try {
    const settings = await stack.up();
    log(`private stack up in ${stack.dir}: redis ${settings.REDIS_URL}`);
    run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { HANDLER_DELAY_MS: '2' } });
    const chaos = run;
    await chaos.setUp();
    for (let member = 0; member < 3; member++) chaos.members.start();
    const totalMs = parameters.kills * parameters.killIntervalMs + parameters.outages * (parameters.outageMs + 15_000);
    const producing = chaos.produce(parameters.events, parameters.keys, totalMs * 0.9, 200);

    let kills = 0;
    while (kills < parameters.kills) {
      await sleep(parameters.killIntervalMs);
      const pid = await stack.signal('redis', 'SIGKILL');
      kills++;
      const restartMs = await stack.restart();
      log(`kill ${kills}/${parameters.kills}: SIGKILL redis pid ${pid}, back after ${restartMs} ms; applied ${await chaos.sink.appliedCount()} of ${chaos.published}`);
    }

    // Outages: the first a clean stop (SIGTERM), the second a crash (SIGKILL); each 30 s without Redis.
    const outages: { signal: string; appliedWhileDown: number; committedWhileDown: number; durationMs: number }[] = [];
    for (let outage = 1; outage <= parameters.outages; outage++) {
      await sleep(15_000);
      const signal = outage % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
      const downAt = Date.now();
      await stack.signal('redis', signal);
      await sleep(outageGraceMs);
      const committedBefore = await chaos.auditor.committed();
      await sleep(parameters.outageMs - outageGraceMs);
      const committedAfter = await chaos.auditor.committed();
      const upAt = Date.now();
      await stack.restart();
      const committedWhileDown = [...committedAfter].reduce((sum, [partition, offset]) => sum + Math.max(0, offset - (committedBefore.get(partition) ?? offset)), 0);
      const { rows } = await chaos.sink.pool.query<{ count: string }>(
        `select count(*) from ${chaos.sink.table} where inserted_at > to_timestamp($1::float8 / 1000) and inserted_at < to_timestamp($2::float8 / 1000)`,
        [downAt + outageGraceMs, upAt],
      );
      outages.push({ signal, appliedWhileDown: Number(rows[0]!.count), committedWhileDown, durationMs: upAt - downAt });
      log(`outage ${outage}/${parameters.outages}: redis ${signal}, down ${upAt - downAt} ms: ${outages.at(-1)!.appliedWhileDown} applied and ${committedWhileDown} offsets committed while down; applied ${await chaos.sink.appliedCount()} of ${chaos.published}`);
    }
    await producing;
    const result = await chaos.finish(
      'redis-outage',
      'Redis SIGKILLed 5 times and down twice for 30 s: nothing applied or committed while down, then exactly once, in order',
      { redisSigkills: kills, redisOutages: outages.length },
      { outages },
    );
    const appliedWhileDown = outages.reduce((sum, outage) => sum + outage.appliedWhileDown, 0);
    const committedWhileDown = outages.reduce((sum, outage) => sum + outage.committedWhileDown, 0);
    result.details = { ...result.details, appliedWhileDown, committedWhileDown };
    result.passed &&= appliedWhileDown === 0 && committedWhileDown === 0;
    return result;
  } finally {
    await run?.tearDown();
    await stack.down();
  }
}

await runAsMain(import.meta, (settings) => redisOutageScenario(settings));
