/**
 * Counterexamples the record-path model found (test/model/), kept as named scenarios: each is the shrunk
 * command list fast-check printed, with the seed and path it was found at (paths change when the arbitraries
 * do; the command list does not). A scenario of a defect whose fix has not landed (see `landedFixes`) asserts
 * that the defect is still there, by its violation: when the fix lands the assertion fails, and the scenario
 * must then hold every invariant (flip `landedFixes`).
 */
import { describe, expect, it, vi } from 'vitest';
import { landedFixes, noKnownDefects, parseCommands, runScenario, type KnownDefectActions, type ScenarioConfig } from '../../model/record-path-commands.ts';

vi.mock('node:timers/promises', () => import('../../model/fake-sleep.ts'));

interface Regression {
  name: string;
  /** Where it was found: `MODEL_SEED=<seed> MODEL_PATH=<path> MODEL_DEFECTS=<defect>`. */
  foundAt: string;
  defect: keyof KnownDefectActions;
  config: Partial<ScenarioConfig>;
  commands: string;
  /** The violation it shows while its defect is not fixed. */
  violation: RegExp;
}

const baseConfig: ScenarioConfig = { onDeadLetter: 'release', inPlaceRetries: 0, members: 2, partitions: 2, concurrency: 1, randomSeed: 1 };

const regressions: Regression[] = [
  {
    name: 'a tier record whose id a lost parking write dropped from its queue is committed as a duplicate and lost (item 3)',
    foundAt: 'seed 152026 path 643:1:1:19:0:18:16:13:13:14:13 defects lostParkingWrites',
    defect: 'lostParkingWrites',
    config: {},
    commands: 'produce(k1),loseParkingWrites(1),produce(k1),fetch(m0, p0, 2),advance(2500),commit(m0)',
    violation: /commit safety: orders\.g\.retry\.1\/0 committed to 1 past offset 0 \(e1\)[\s\S]*lost: e1/,
  },
  {
    name: 'a fenced completion of a parked head leaves its key parked for good (item 4)',
    foundAt: 'seed 152026 path 2223:1:1:1:4:0:2:3:10:13:13:12:11:12:12 defects expiredLeases',
    defect: 'expiredLeases',
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),advance(6000),fetch(m0, p0, 1),expireLeases(),advance(0)',
    violation: /stuck key: k0 \(orders\/0\) still parked after draining, behind head e1/,
  },
  {
    name: 'a member that lost a partition parks a key; the new owner, trusting its cache, never unparks it (item 5)',
    foundAt: 'seed 152026 path 1386:0:0:0:2:4:7:7:7:14:16:12:12 defects unfencedParkingWrites',
    defect: 'unfencedParkingWrites',
    config: {},
    commands: 'produce(k2),rebalance(p0->none p1->m0),fetch(m0, p1, 1),settle(#0, hang),crash(m1)',
    violation: /stuck key: k2 \(orders\/1\) still parked after draining, behind head e1/,
  },
  {
    name: 'an isRetryable that throws abandons the record: its lane is freed and the partition stalls at it (item 6)',
    foundAt: 'seed 152026 path 30:0:0:0:9:6:6:6:7:9:9:5:5 defects unexpectedErrors',
    defect: 'unexpectedErrors',
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),settle(#0, fail-retry-check-throws)',
    violation: /no stall: orders\/0 committed to 0 of 1[\s\S]*unexpected error: processing rejected with isRetryable failed/,
  },
  {
    name: "a handler rejecting with a non-Error: the forward's headers cannot be built, and the record retries forever (items 6 and 2)",
    foundAt: 'written from the reject-non-error action (defects unexpectedErrors)',
    defect: 'unexpectedErrors',
    config: {},
    commands: 'produce(k0),produce(k0),fetch(m0, p0, 2),settle(#0, reject-non-error)',
    violation: /no stall: orders\/0 committed to 0 of 2/,
  },
  {
    name: 'under hold, a redelivered copy of the dead-lettered head is dead-lettered again as predecessor-dead-lettered',
    foundAt: 'seed 152026 path 536:1:1:4:5:10:15:15:19:19:21:9:9:9 defects heldKeyRedeliveries',
    defect: 'heldKeyRedeliveries',
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k0),fetch(m0, p0, 1),settle(#0, fail-non-retryable),crash(m0)',
    violation: /once: e1 \(key k0\) has 0 effect\(s\) and 2 DLT copy\(ies\)/,
  },
  {
    name: 'under hold, a hung head times out twice (stale attempt, then its redelivered copy): one DLT copy, not two',
    foundAt: 'seed 152026 path 628:0:0:4:6:7:7:6:9:9:10 (first version of the model)',
    defect: 'heldKeyRedeliveries',
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k2),fetch(m1, p1, 1),settle(#0, hang),rebalance(p0->m0 p1->m1)',
    violation: /once: e1 \(key k2\) has 0 effect\(s\) and 2 DLT copy\(ies\)/,
  },
];

describe('record path model: regressions', () => {
  for (const regression of regressions) {
    it(regression.name, async () => {
      const defects = { ...noKnownDefects, [regression.defect]: true };
      const violations = await runScenario({ ...baseConfig, ...regression.config }, parseCommands(regression.commands), defects);
      if (landedFixes[regression.defect]) expect(violations).toEqual([]);
      else expect(violations.join('\n'), `${regression.defect} is not marked fixed; if this no longer fails, its fix landed: flip landedFixes.${regression.defect}`).toMatch(regression.violation);
    });
  }
});
