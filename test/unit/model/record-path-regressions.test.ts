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
  /** The actions it needs (each behind the flag of its defect). */
  defects: (keyof KnownDefectActions)[];
  config: Partial<ScenarioConfig>;
  commands: string;
  /** Fixed although a defect it needs is not marked fixed (a fix that covers this scenario, not the whole action). */
  fixed?: boolean;
  /** The violation it shows while its defect is not fixed. */
  violation: RegExp;
}

const baseConfig: ScenarioConfig = { onDeadLetter: 'release', inPlaceRetries: 0, members: 2, partitions: 2, concurrency: 1, randomSeed: 1 };

const regressions: Regression[] = [
  {
    name: 'a tier record whose id a lost parking write dropped from its queue is committed as a duplicate and lost (item 3)',
    foundAt: 'seed 152026 path 643:1:1:19:0:18:16:13:13:14:13 defects lostParkingWrites',
    defects: ['lostParkingWrites'],
    config: {},
    commands: 'produce(k1),loseParkingWrites(1),produce(k1),fetch(m0, p0, 2),advance(2500),commit(m0)',
    violation: /commit safety: orders\.g\.retry\.1\/0 committed to 1 past offset 0 \(e1\)[\s\S]*lost: e1/,
  },
  {
    name: 'a lost write of the queue advance leaves a settled (here dead-lettered) head at the front: the key stays parked for good (item 3, on parking)',
    foundAt: 'seed 123 path (--runs 20000 --commands 80 on model + parking) HBUAABMAKB///////T:V1/',
    defects: ['lostParkingWrites'],
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),advance(15000),fetch(m0, p0, 1),loseParkingWrites(1),advance(2500),advance(0)',
    violation: /stuck key: k0 \(orders\/0\) still parked after draining, behind head e1/,
  },
  {
    name: 'a fenced completion of a parked head leaves its key parked for good (item 4)',
    foundAt: 'seed 152026 path 2223:1:1:1:4:0:2:3:10:13:13:12:11:12:12 defects expiredLeases',
    defects: ['expiredLeases'],
    fixed: true, // parking branch: a fenced completion claims again and completes, and the queue advances
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),advance(6000),fetch(m0, p0, 1),expireLeases(),advance(0)',
    violation: /stuck key: k0 \(orders\/0\) still parked after draining, behind head e1/,
  },
  {
    name: 'a member that lost a partition parks a key; the new owner, trusting its cache, never unparks it (item 5)',
    foundAt: 'seed 152026 path 1386:0:0:0:2:4:7:7:7:14:16:12:12 defects unfencedParkingWrites',
    defects: ['unfencedParkingWrites'],
    config: {},
    commands: 'produce(k2),rebalance(p0->none p1->m0),fetch(m0, p1, 1),settle(#0, hang),crash(m1)',
    violation: /stuck key: k2 \(orders\/1\) still parked after draining, behind head e1/,
  },
  {
    name: 'an isRetryable that throws abandons the record: its lane is freed and the partition stalls at it (item 6)',
    foundAt: 'seed 152026 path 30:0:0:0:9:6:6:6:7:9:9:5:5 defects unexpectedErrors',
    defects: ['unexpectedErrors'],
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),settle(#0, fail-retry-check-throws)',
    violation: /no stall: orders\/0 committed to 0 of 1[\s\S]*unexpected error: processing rejected with isRetryable failed/,
  },
  {
    name: "a handler rejecting with a non-Error: the forward's headers cannot be built, and the record retries forever (items 6 and 2)",
    foundAt: 'written from the reject-non-error action (defects unexpectedErrors)',
    defects: ['unexpectedErrors'],
    config: {},
    commands: 'produce(k0),produce(k0),fetch(m0, p0, 2),settle(#0, reject-non-error)',
    violation: /no stall: orders\/0 committed to 0 of 2/,
  },
  {
    name: 'under hold, a redelivered copy of the dead-lettered head is dead-lettered again as predecessor-dead-lettered',
    foundAt: 'seed 152026 path 536:1:1:4:5:10:15:15:19:19:21:9:9:9 defects heldKeyRedeliveries',
    defects: ['heldKeyRedeliveries'],
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k0),fetch(m0, p0, 1),settle(#0, fail-non-retryable),crash(m0)',
    violation: /once: e1 \(key k0\) has 0 effect\(s\) and 2 DLT copy\(ies\)/,
  },
  {
    name: 'under hold, a hung head times out twice (stale attempt, then its redelivered copy): one DLT copy, not two',
    foundAt: 'seed 152026 path 628:0:0:4:6:7:7:6:9:9:10 (first version of the model)',
    defects: ['heldKeyRedeliveries'],
    fixed: true, // parking branch
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k2),fetch(m1, p1, 1),settle(#0, hang),rebalance(p0->m0 p1->m1)',
    violation: /once: e1 \(key k2\) has 0 effect\(s\) and 2 DLT copy\(ies\)/,
  },
  {
    name: 'dlt replay while the dead-lettering is still in flight (DLT record written, marker not yet): the replayed copy is skipped as a duplicate',
    // Found as 'produce(k0),fetch(m0, p0, 1),redisOutage(500),settle(#0, fail-non-retryable),dltReplay(#0)' (seed 99
    // path ////////6:/H); since the claim is renewed before a dead letter (expiredLeases fix) that DLT write waits out
    // the outage, so a failed first forward holds the DLT write until the outage, which then delays the marker.
    foundAt: 'seed 99 path (from --runs 20000 --commands 80) ////////6:/H, reshaped by hand',
    defects: ['replayWhileDeadLettering', 'operatorToolsOnBusyKeys'],
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),failForwards(1),settle(#0, fail-non-retryable),redisOutage(3000),advance(600),dltReplay(#0)',
    violation: /lost: e1 \(key k0\) was neither handled nor left in the DLT \(1 DLT copies, 1 replays\)/,
  },
  {
    name: 'a fenced dead-letter completion is ignored: the event counts as dead-lettered, and a redelivered copy is handled too (items 4 and 7)',
    foundAt: 'seed 123 (--runs 20000 --commands 80), shortened by hand',
    defects: ['expiredLeases'],
    fixed: true, // parking 21e6bad: the dead letter is marked again through claim + complete
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),redisOutage(20000),settle(#0, fail-non-retryable),advance(15000),advance(15000),crash(m0)',
    violation: /once: e1 \(key k0\) has 1 effect\(s\) and 1 DLT copy\(ies\)/,
  },
  {
    name: "dlt replay into a held key races the member dead-lettering its successor: the member's stale write drops the replayed head (item 5)",
    foundAt: 'seed 99 (--runs 20000 --commands 80) path GAMADADB//////////f:V9/B',
    defects: ['operatorToolsOnBusyKeys'],
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k1),fetch(m0, p0, 1),settle(#0, fail-non-retryable),produce(k1),failForwards(1),fetch(m0, p0, 1),dltReplay(#0),advance(2500),produce(k1),keysRelease(k1),fetch(m0, p0, 1),settle(#0, hang),produce(k0)',
    violation: /lost: e1 \(key k1\) was neither handled nor left in the DLT \(1 DLT copies, 1 replays\)/,
  },
  {
    name: "a record revoked in flight re-owns its partition's parking state with its member's new token: the new owner is fenced for good (on parking)",
    foundAt: 'seed 123 path 6:B (--runs 20000 --commands 80 on model + parking)',
    defects: ['movesWhileInFlight'],
    config: {},
    commands: 'produce(k0),fetch(m0, p0, 1),advance(6000),fetch(m0, p0, 1),rebalance(p0->m1 p1->m0),commit(m0)',
    violation: /no stall: orders\.g\.retry\.1\/0 committed to 0 of 1[\s\S]*stuck key: k0/,
  },
  {
    name: 'under hold, a lost queue removal of a predecessor-dead-lettered event (no done marker) leaves the next event cycling through tier 1 for good (on parking + recordpath)',
    foundAt: 'seed 7 path vAJAJAAA////////////S:V9/H (--runs 20000 --commands 80 on 16494d4)',
    defects: ['lostParkingWritesUnderHold'],
    config: { onDeadLetter: 'hold' },
    commands: 'produce(k0),fetch(m0, p0, 1),produce(k0),advance(15000),fetch(m0, p0, 1),advance(1100),loseParkingWrites(1),fetch(m0, p0, 1)',
    violation: /no stall: orders\.g\.retry\.1\/0[\s\S]*lost: e3[\s\S]*stuck key: k0/,
  },
  {
    name: 'a revoked member whose claim expired dead-letters a hung event that the new owner has handled meanwhile: handled and dead-lettered (items 5, 7)',
    foundAt: 'seed 7 path /////j:/ (--runs 20000 --commands 80 on 7746535)',
    defects: ['expiredLeases', 'movesWhileInFlight'],
    config: {},
    // Fixed: the claim is renewed before a failure is routed (forward or dead letter); a lost claim starts over.
    commands: 'rebalance(p0->m1 p1->none),produce(k0),fetch(m1, p0, 1),advance(6000),fetch(m1, p0, 1),expireLeases(),settle(#0, hang),produce(k0)',
    violation: /once: e1 \(key k0\) has 1 effect\(s\) and 1 DLT copy\(ies\)/,
  },
];

describe('record path model: regressions', () => {
  for (const regression of regressions) {
    it(regression.name, async () => {
      const defects = { ...noKnownDefects, ...Object.fromEntries(regression.defects.map((name) => [name, true])) };
      const violations = await runScenario({ ...baseConfig, ...regression.config }, parseCommands(regression.commands), defects);
      const unfixed = regression.fixed ? [] : regression.defects.filter((name) => !landedFixes[name]);
      if (unfixed.length === 0) expect(violations).toEqual([]);
      else expect(violations.join('\n'), `${unfixed.join(', ')} not marked fixed; if this no longer fails, the fix landed: flip landedFixes`).toMatch(regression.violation);
    });
  }
});
