/**
 * The actions of the model run, as fast-check commands, and the property that runs them against the system:
 * random interleavings of fetches, handler outcomes, time, commits, rebalances (a partition moving between
 * members that share the stores while records are in flight), member deaths, Redis faults, forward faults,
 * `keys release` and `dlt replay`; then a drain, then the invariants of reference-model.ts.
 *
 * Known defects (issue 15) that the model finds while their fixes have not landed are behind
 * {@link KnownDefectActions}: each flag turns on the action that exposes one defect. The default run leaves
 * them off; `npm run test:model -- --defects all` turns them on.
 */
import fc from 'fast-check';
import { checkCommit, checkDrained } from './reference-model.ts';
import { RecordPathSystem, type HandlerOutcome, type SystemConfig } from './record-path-system.ts';
import { SimClock } from './sim-clock.ts';

/** Actions that expose a known defect of issue 15, off until its fix lands. */
export interface KnownDefectActions {
  /** Parking writes acknowledged and lost (item 3: a tier record missing from its queue is committed as a duplicate). */
  lostParkingWrites: boolean;
  /**
   * Claims whose lease runs out before their completion: a Redis outage longer than the lease, a member frozen
   * past it, forwards retried past it (items 4 and 7: a fenced completion leaves a parked key stuck; a fenced
   * dead-letter completion is ignored, so a redelivered copy is handled too). Off, a lease runs out only once its
   * holder stopped processing the event or died.
   */
  expiredLeases: boolean;
  /** A handler rejecting with a non-Error, an `isRetryable` that throws (item 6: the lane is freed out of order). */
  unexpectedErrors: boolean;
  /**
   * A member that lost a partition still writes its parking state, and other members' caches hide it (item 5).
   * Since the store fences parking writes by owner (parking branch), nothing restricts this any more.
   */
  unfencedParkingWrites: boolean;
  /**
   * Redelivered copies (after a rebalance or a member's death) under `onDeadLetter: 'hold'`: a held key
   * dead-letters a copy of an event already done, its own head included, as `predecessor-dead-lettered`
   * (found by this model). Off, hold scenarios have no rebalance and no member death.
   */
  heldKeyRedeliveries: boolean;
  /**
   * `dlt replay` of an event whose dead-lettering is still in flight (the DLT record is written, the done
   * marker not yet, e.g. during a Redis outage): the replayed copy is skipped as a duplicate and the replay
   * is lost (found by this model). Off, only events no member is processing are replayed.
   */
  replayWhileDeadLettering: boolean;
  /**
   * Lost parking writes under `onDeadLetter: 'hold'`: an event dead-lettered as `predecessor-dead-lettered`
   * gets no done marker, so when its removal from the queue is lost, the key's next event cannot learn it is
   * settled and cycles through tier 1 behind it for good (found by this model on parking + recordpath). Off,
   * lost parking writes happen in `release` scenarios only.
   */
  lostParkingWritesUnderHold: boolean;
  /**
   * A rebalance moving a partition away from a member with a record of it in flight. On the parking branch the
   * stale record's first parking touch after its member rejoined takes the partition (`own`) with the member's
   * current token, so the new owner is fenced for good (found by this model). Off, such a partition stays with
   * its owner (the rebalance still happens: new epoch, redelivery).
   */
  movesWhileInFlight: boolean;
  /**
   * `keys release` and `dlt replay` on a key whose record a member is processing: their read-modify-write of
   * the parking state races the member's (item 5: make them atomic). Off, they run only on quiet keys, as the
   * README asks today.
   */
  operatorToolsOnBusyKeys: boolean;
}

/**
 * Which known defects are fixed on this branch: an action whose defect is fixed runs in the default suite.
 * Flip one to true when its fix is merged (its regression test in test/unit/model/ then insists it holds).
 */
export const landedFixes: KnownDefectActions = {
  // Fixed on the parking branch (63a6d17, f09a752): owner-fenced compare-and-set, atomic operator tools.
  unfencedParkingWrites: true,
  operatorToolsOnBusyKeys: true,
  // Lost successor ids and a lost queue advance (the next event asks the store whether the head is settled).
  lostParkingWrites: true,
  // Under hold too (modelfix): an event of a held key is claimed before its dead letter and marked done with it.
  lostParkingWritesUnderHold: true,
  // Fixed on parking (21e6bad): only a record of the current assignment takes a partition.
  movesWhileInFlight: true,
  // Its fenced completions are fixed (63a6d17, 21e6bad); a forward or dead letter renews the claim first and
  // starts over when it is lost (modelfix), so a revoked member whose lease ran out no longer dead-letters it.
  expiredLeases: true,
  // Fixed on recordpath (an unexpected error processes the record again; a non-Error rejection is a failure).
  unexpectedErrors: true,
  // Fixed on parking (a2408a7: a hung head times out once) and modelfix (a redelivered copy of an event done
  // already, the held head included, is skipped as a duplicate: the store is asked before the dead letter).
  heldKeyRedeliveries: true,
  // Fixed: a replay asked for before the dead letter's marker exists leaves a replay request, and the marker
  // written later does not make the replayed copy a duplicate.
  replayWhileDeadLettering: true,
};
/** The default run: the actions of every fixed defect, no others. */
export const defaultDefectActions: KnownDefectActions = { ...landedFixes };
export const noKnownDefects: KnownDefectActions = { lostParkingWrites: false, expiredLeases: false, unexpectedErrors: false, unfencedParkingWrites: false, heldKeyRedeliveries: false, replayWhileDeadLettering: false, operatorToolsOnBusyKeys: false, movesWhileInFlight: false, lostParkingWritesUnderHold: false };
export const allKnownDefects: KnownDefectActions = { lostParkingWrites: true, expiredLeases: true, unexpectedErrors: true, unfencedParkingWrites: true, heldKeyRedeliveries: true, replayWhileDeadLettering: true, operatorToolsOnBusyKeys: true, movesWhileInFlight: true, lostParkingWritesUnderHold: true };

export const keys = ['k0', 'k1', 'k2'] as const;
const partitionOfKey = (index: number) => (index === 2 ? 1 : 0);
const memberCount = 2;
const partitionCount = 2;

interface Model {
  defects: KnownDefectActions;
  onDeadLetter: SystemConfig['onDeadLetter'];
}

type Command = fc.AsyncCommand<Model, RecordPathSystem>;

/** A command from its label (as counterexamples print it) and its action. */
function command(label: string, act: (system: RecordPathSystem) => Promise<void> | void, check: (model: Model) => boolean = () => true): Command {
  return {
    check,
    run: async (_model, system) => {
      await act(system);
    },
    toString: () => label,
  };
}

/** Actions that redeliver records (a rebalance, a member's death): restricted under `hold` until its fix lands. */
const redeliveryAllowed = (model: Model) => model.onDeadLetter === 'release' || model.defects.heldKeyRedeliveries;

const keyIndexOf = (key: string) => keys.indexOf(key as (typeof keys)[number]);

/** The actions, by name: each builds its command from its arguments as printed (`fetch(m1, p0, 3)`). */
export const actions = {
  produce: (key: string) => command(`produce(${key})`, (system) => void system.produce(key, partitionOfKey(keyIndexOf(key)))),
  fetch: (member: number, partition: number, max: number) => command(`fetch(m${member}, p${partition}, ${max})`, (system) => system.fetch(member, partition, max)),
  settle: (index: number, outcome: HandlerOutcome) => command(`settle(#${index}, ${outcome})`, (system) => system.settle(index, outcome)),
  advance: (ms: number) => command(`advance(${ms})`, (system) => system.advance(ms)),
  commit: (member: number) => command(`commit(m${member})`, (system) => system.commit(member)),
  rebalance: (owners: number[]) =>
    command(`rebalance(${owners.map((owner, p) => `p${p}->${owner < 0 ? 'none' : `m${owner}`}`).join(' ')})`, (system) => system.rebalance(owners), redeliveryAllowed),
  crash: (member: number) => command(`crash(m${member})`, (system) => system.crash(member), redeliveryAllowed),
  redisOutage: (ms: number) => command(`redisOutage(${ms})`, (system) => system.redisOutage(ms)),
  failRedisCalls: (count: number) => command(`failRedisCalls(${count})`, (system) => system.failRedisCalls(count)),
  loseClaimReplies: (count: number) => command(`loseClaimReplies(${count})`, (system) => system.loseClaimReplies(count)),
  failForwards: (count: number) => command(`failForwards(${count})`, (system) => system.failForwards(count)),
  keysRelease: (key: string) => command(`keysRelease(${key})`, (system) => system.releaseKey(key)),
  dltReplay: (index: number) => command(`dltReplay(#${index})`, (system) => system.replayDeadLetters(index)),
  expireLeases: () => command('expireLeases()', (system) => system.expireLeases()),
  loseParkingWrites: (count: number) => command(`loseParkingWrites(${count})`, (system) => system.loseParkingWrites(count), (model) => model.onDeadLetter === 'release' || model.defects.lostParkingWritesUnderHold),
};

/**
 * The commands of a counterexample as fast-check prints it (`produce(k2),fetch(m1, p1, 1),settle(#0, hang)`),
 * so a shrunk path found once is kept as an explicit scenario.
 */
export function parseCommands(text: string): Command[] {
  return [...text.replace(/\/\*.*?\*\//g, '').matchAll(/(\w+)\(([^)]*)\)/g)].map(([, name, rawArguments]) => {
    const parts = rawArguments!.split(/[ ,]+/).filter(Boolean);
    const number = (part: string) => Number(part.replace(/^[#mp]/, ''));
    switch (name) {
      case 'produce':
      case 'keysRelease':
        return actions[name](parts[0]!);
      case 'fetch':
        return actions.fetch(number(parts[0]!), number(parts[1]!), number(parts[2]!));
      case 'settle':
        return actions.settle(number(parts[0]!), parts[1] as HandlerOutcome);
      case 'rebalance':
        return actions.rebalance(parts.map((part) => (part.endsWith('none') ? -1 : Number(part.split('->m')[1]))));
      case 'expireLeases':
        return actions.expireLeases();
      case 'advance':
      case 'commit':
      case 'crash':
      case 'redisOutage':
      case 'failRedisCalls':
      case 'loseClaimReplies':
      case 'failForwards':
      case 'dltReplay':
      case 'loseParkingWrites':
        return actions[name](number(parts[0]!));
      default:
        throw new Error(`unknown action in a scenario: ${name}`);
    }
  });
}

export function commandArbitraries(defects: KnownDefectActions): fc.Arbitrary<Command>[] {
  const outcomes: HandlerOutcome[] = ['succeed', 'succeed', 'succeed', 'fail', 'fail-non-retryable', 'hang'];
  if (defects.unexpectedErrors) outcomes.push('reject-non-error', 'fail-retry-check-throws');
  const member = fc.integer({ min: 0, max: memberCount - 1 });
  const partition = fc.integer({ min: 0, max: partitionCount - 1 });
  const key = fc.constantFrom(...keys);
  const arbitraries: fc.WeightedArbitrary<Command>[] = [
    { weight: 6, arbitrary: key.map((name) => actions.produce(name)) },
    { weight: 6, arbitrary: fc.tuple(member, partition, fc.integer({ min: 1, max: 4 })).map(([m, p, max]) => actions.fetch(m, p, max)) },
    { weight: 8, arbitrary: fc.tuple(fc.nat(20), fc.constantFrom(...outcomes)).map(([index, outcome]) => actions.settle(index, outcome)) },
    { weight: 4, arbitrary: fc.constantFrom(0, 50, 600, 1_100, 2_500, 6_000, 15_000).map((ms) => actions.advance(ms)) },
    { weight: 3, arbitrary: member.map((m) => actions.commit(m)) },
    { weight: 2, arbitrary: fc.array(fc.integer({ min: -1, max: memberCount - 1 }), { minLength: partitionCount, maxLength: partitionCount }).map((owners) => actions.rebalance(owners)) },
    { weight: 1, arbitrary: member.map((m) => actions.crash(m)) },
    { weight: 2, arbitrary: fc.constantFrom(...(defects.expiredLeases ? [500, 3_000, 20_000] : [500, 3_000])).map((ms) => actions.redisOutage(ms)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((count) => actions.failRedisCalls(count)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((count) => actions.loseClaimReplies(count)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((count) => actions.failForwards(count)) },
    { weight: 1, arbitrary: key.map((name) => actions.keysRelease(name)) },
    { weight: 1, arbitrary: fc.nat(10).map((index) => actions.dltReplay(index)) },
  ];
  if (defects.expiredLeases) arbitraries.push({ weight: 1, arbitrary: fc.constant(actions.expireLeases()) });
  if (defects.lostParkingWrites) arbitraries.push({ weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }).map((count) => actions.loseParkingWrites(count)) });
  return [fc.oneof(...arbitraries)];
}

export type ScenarioConfig = Omit<SystemConfig, 'replayWhileDeadLettering' | 'leasesExpireUnderLiveHolders' | 'operatorToolsOnBusyKeys' | 'movesWhileInFlight'> & { randomSeed: number };

const configArbitrary: fc.Arbitrary<ScenarioConfig> = fc.record({
  onDeadLetter: fc.constantFrom('release' as const, 'hold' as const),
  inPlaceRetries: fc.integer({ min: 0, max: 1 }),
  members: fc.constant(memberCount),
  partitions: fc.constant(partitionCount),
  concurrency: fc.constantFrom(1, 4),
  randomSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
});

/** Processing outcomes and faults over every scenario run in this process: what the runs exercised. */
export const coverage = new Map<string, number>();

/** Runs one scenario; returns the violations of the invariants (empty when they all hold). */
export async function runScenario(config: ScenarioConfig, commands: Iterable<Command>, defects: KnownDefectActions): Promise<string[]> {
  const clock = new SimClock({ seed: config.randomSeed });
  clock.install();
  try {
    const system = new RecordPathSystem({ ...config, replayWhileDeadLettering: defects.replayWhileDeadLettering, operatorToolsOnBusyKeys: defects.operatorToolsOnBusyKeys, movesWhileInFlight: defects.movesWhileInFlight, leasesExpireUnderLiveHolders: defects.expiredLeases }, clock);
    system.checkCommit = (topic, partition, from, to) => checkCommit(system, system.observed, topic, partition, from, to);
    await system.rebalance(Array.from({ length: config.partitions }, (_, partition) => partition % config.members));
    await fc.asyncModelRun(() => ({ model: { defects, onDeadLetter: config.onDeadLetter }, real: system }), commands);
    await system.drain();
    const violations = [...new Set(system.violations), ...checkDrained(system, system.observed)];
    for (const [outcome, count] of system.outcomes) coverage.set(outcome, (coverage.get(outcome) ?? 0) + count);
    coverage.set('parking-writes-lost', (coverage.get('parking-writes-lost') ?? 0) + system.parkingStore.lostWrites);
    coverage.set('claims-taken-over', (coverage.get('claims-taken-over') ?? 0) + system.idempotencyStore.takenOver.size);
    coverage.set('own-claims-ahead-taken-over', (coverage.get('own-claims-ahead-taken-over') ?? 0) + system.idempotencyStore.ownClaimsTakenOver);
    coverage.set('claim-replies-lost', (coverage.get('claim-replies-lost') ?? 0) + system.idempotencyStore.claimRepliesLost);
    coverage.set('replay-requests-used', (coverage.get('replay-requests-used') ?? 0) + system.idempotencyStore.replayRequestsUsed);
    coverage.set('replay-requests-beside-success', (coverage.get('replay-requests-beside-success') ?? 0) + system.idempotencyStore.replayRequestsBesideSuccess);
    coverage.set('redis-calls-failed', (coverage.get('redis-calls-failed') ?? 0) + system.faults.failedCalls);
    if (system.trace && violations.length > 0) violations.push('trace:', ...system.trace);
    for (const error of system.unexpectedErrors) violations.push(`unexpected error: processing rejected with ${error instanceof Error ? error.message : typeof error} (the record is abandoned, its lane freed)`);
    return violations;
  } finally {
    clock.uninstall();
  }
}

/** The model property: every invariant holds over random scenarios. */
export function recordPathProperty(defects: KnownDefectActions = defaultDefectActions, maxCommands = 40) {
  return fc.asyncProperty(configArbitrary, fc.commands(commandArbitraries(defects), { maxCommands, size: 'max' }), async (config, commands) => {
    const violations = await runScenario(config, commands, defects);
    if (violations.length > 0) throw new Error(`invariants violated:\n  ${violations.join('\n  ')}`);
  });
}
