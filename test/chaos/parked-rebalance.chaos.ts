// Invariant: with keys parked on the retry ladder and members killing themselves right after a parking write and before the forward it guards (the group rebalancing each time), every event is applied exactly once in per-key order, no commit passes an incomplete record, and no key is left parked at the end.
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { ChaosRun, sleep, waitUntilNoKeyParked, type ScenarioResult } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface ParkedRebalanceParameters {
  events: number;
  keys: number;
  partitions: number;
  members: number;
  /** Members killed between a parking write and its forward. */
  kills: number;
  /** A member kills itself after this many parking writes (a random number up to it). */
  writesBeforeKill: number;
  failEvery: number;
}

export const fullParkedRebalance: ParkedRebalanceParameters = { events: 20_000, keys: 1_000, partitions: 6, members: 3, kills: 15, writesBeforeKill: 40, failEvery: 5 };

export async function parkedRebalanceScenario(settings: StackSettings, parameters: ParkedRebalanceParameters = fullParkedRebalance): Promise<ScenarioResult> {
  const run = new ChaosRun({
    settings,
    partitions: parameters.partitions,
    tierCount: 2,
    memberEnv: { HANDLER_DELAY_MS: '5', IN_PLACE_RETRIES: '0', RETRY_TIERS_MS: '300,600', FAIL_FIRST_ATTEMPT_EVERY: String(parameters.failEvery) },
  });
  const redis = new Redis(settings.REDIS_URL, { lazyConnect: true });
  try {
    await run.setUp();
    const armed = new Set<string>();
    const startMember = (arm: boolean) => {
      run.members.setEnv('KILL_AFTER_PARKING_WRITES', arm ? String(1 + Math.floor(Math.random() * parameters.writesBeforeKill)) : '0');
      const name = run.members.start();
      if (arm) armed.add(name);
      return name;
    };
    for (let member = 0; member < parameters.members; member++) startMember(true);
    const producing = run.produce(parameters.events, parameters.keys, parameters.kills * 4_000, 100);
    // Each crash (a self-kill after a parking write) is replaced at once, armed again until the budget is spent.
    let crashes = 0;
    const deadline = Date.now() + parameters.kills * 20_000 + 60_000;
    while (crashes < parameters.kills && Date.now() < deadline) {
      await sleep(250);
      while (crashes < run.members.crashes) {
        crashes++;
        const started = startMember(crashes < parameters.kills);
        run.log(`kill ${crashes}/${parameters.kills}: a member died between a parking write and its forward; started ${started}; applied ${await run.sink.appliedCount()} of ${run.published}`);
      }
    }
    // Disarm: every armed member (alive or dead) leaves (SIGTERM), and as many unarmed ones take over.
    for (const name of armed) {
      const index = run.members.running.indexOf(name);
      if (index >= 0) await run.members.stop(index);
    }
    while (run.members.running.length < parameters.members) startMember(false);
    await producing;
    // The source lag says nothing of the ladder: first wait for every parked key to drain (at most 120 s).
    const drained = await waitUntilNoKeyParked(new RedisParkingStore({ redis, groupId: run.groupId }), run.topic, 120_000);
    run.log(`parked keys ${drained.parked === 0 ? `drained ${drained.afterMs} ms after the last fault` : `still ${drained.parked} after 120 s`}`);
    const selfKills = run.members.crashes;
    const result = await run.finish(
      'parked-rebalance',
      'members killed between a parking write and its forward: exactly once, in order, no key left parked',
      { killsBetweenParkingWriteAndForward: selfKills },
      { writesBeforeKill: parameters.writesBeforeKill },
    );
    const parkedAtEnd = await new RedisParkingStore({ redis, groupId: run.groupId }).list(run.topic);
    const counters = result.details.memberCounters as Record<string, number>;
    // The crashes are the scenario's own faults, each announced by the member just before it died.
    const announced = counters.selfKilledAfterParkingWrite ?? 0;
    result.details = { ...result.details, parkedAtEnd: parkedAtEnd.length, announcedSelfKills: announced, ...(parkedAtEnd[0] ? { firstParkedAtEnd: parkedAtEnd[0] } : {}) };
    result.passed = Object.values(result.counters).every((value) => value === 0) && selfKills === announced && selfKills > 0 && parkedAtEnd.length === 0;
    return result;
  } finally {
    await run.tearDown();
    redis.disconnect();
  }
}

/** Flags for a small run: `--events 3000 --keys 150 --partitions 3 --members 2 --kills 4 --writes-before-kill 20`. */
function parametersFromArgs(): ParkedRebalanceParameters {
  const { values } = parseArgs({
    options: { events: { type: 'string' }, keys: { type: 'string' }, partitions: { type: 'string' }, members: { type: 'string' }, kills: { type: 'string' }, 'writes-before-kill': { type: 'string' }, 'fail-every': { type: 'string' } },
    strict: true,
  });
  const number = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(value));
  const full = fullParkedRebalance;
  return {
    events: number(values.events, full.events),
    keys: number(values.keys, full.keys),
    partitions: number(values.partitions, full.partitions),
    members: number(values.members, full.members),
    kills: number(values.kills, full.kills),
    writesBeforeKill: number(values['writes-before-kill'], full.writesBeforeKill),
    failEvery: number(values['fail-every'], full.failEvery),
  };
}

await runAsMain(import.meta, (settings) => parkedRebalanceScenario(settings, parametersFromArgs()));
