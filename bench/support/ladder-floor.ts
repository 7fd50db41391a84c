/**
 * The least time a ledger demo run can take on its retry ladder, whatever the consumer's speed: per account, its
 * events are handled one after another in order, and each failing event waits its in-place backoffs and its tier
 * delays before the account's next event may run. An account cannot finish before any of its events was
 * published plus the waits of that event and every later one of the account; the run cannot finish before its
 * slowest account. Handler time, fetches, commits and worker start-up count as zero here, so a measured run is
 * always above this floor: what is left between the two is what a faster consumer could still win.
 *
 * `minimum` takes every backoff and jitter at its least (backoffs at half their delay, tiers with no jitter);
 * `typical` at their mean (backoffs at three quarters, tiers plus half the jitter).
 */

/** One published event of an account, as `demo_published` records it. */
export interface PublishedFault {
  account: string;
  /** When it was published, ms (any epoch: only differences count). */
  publishedAtMs: number;
  fault: 'none' | 'transient' | 'poison';
  /** For a transient fault: the attempts that fail before one succeeds. */
  failures: number;
}

/** The ladder the workers run (the demo's: 2 in-place retries, 100 ms backoff growing 5x, tiers 1 s and 5 s, 10% jitter). */
export interface Ladder {
  inPlaceRetries: number;
  retryBackoffMs: number;
  backoffFactor: number;
  retryBackoffMaxMs: number;
  tiersMs: readonly number[];
  tierJitter: number;
}

export type Estimate = 'minimum' | 'typical';

/** What one event waits, in ms, from its first attempt until it is handled or dead-lettered (handler time not counted). */
export function eventWaitMs(event: Pick<PublishedFault, 'fault' | 'failures'>, ladder: Ladder, estimate: Estimate): number {
  if (event.fault === 'none') return 0;
  const failing = event.fault === 'poison' ? Infinity : event.failures;
  const backoffShare = estimate === 'minimum' ? 0.5 : 0.75;
  const jitterShare = estimate === 'minimum' ? 0 : ladder.tierJitter / 2;
  let waited = 0;
  let failed = 0;
  // Each visit (the source, then each tier) makes 1 + inPlaceRetries attempts, with a backoff before each retry.
  for (let visit = 0; visit <= ladder.tiersMs.length; visit++) {
    if (visit > 0) waited += ladder.tiersMs[visit - 1]! * (1 + jitterShare);
    for (let index = 1; index <= 1 + ladder.inPlaceRetries; index++) {
      if (failed >= failing) return waited; // this attempt succeeds
      failed++;
      if (index <= ladder.inPlaceRetries) waited += Math.min(ladder.retryBackoffMaxMs, ladder.retryBackoffMs * ladder.backoffFactor ** (index - 1)) * backoffShare;
    }
  }
  return waited; // the ladder is exhausted: dead-lettered
}

/** Per account, the least ms from the run's first publish until its last event is handled; and the run's floor. */
export function ladderFloor(events: readonly PublishedFault[], ladder: Ladder, estimate: Estimate): { floorMs: number; account: string | undefined; byAccount: Map<string, number> } {
  const start = Math.min(...events.map((event) => event.publishedAtMs));
  const byAccount = new Map<string, PublishedFault[]>();
  for (const event of events) {
    const list = byAccount.get(event.account);
    if (list) list.push(event);
    else byAccount.set(event.account, [event]);
  }
  const floors = new Map<string, number>();
  let floorMs = 0;
  let slowest: string | undefined;
  for (const [account, list] of byAccount) {
    // From the last event back: the account ends no earlier than any event's publish plus the waits from it on.
    let after = 0;
    let end = 0;
    for (let index = list.length - 1; index >= 0; index--) {
      after += eventWaitMs(list[index]!, ladder, estimate);
      end = Math.max(end, list[index]!.publishedAtMs - start + after);
    }
    floors.set(account, end);
    if (end > floorMs) [floorMs, slowest] = [end, account];
  }
  return { floorMs, account: slowest, byAccount: floors };
}
