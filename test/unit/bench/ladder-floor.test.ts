import { describe, expect, it } from 'vitest';
import { eventWaitMs, ladderFloor, type Ladder, type PublishedFault } from '../../../bench/support/ladder-floor.ts';

/** The demo's ladder: 2 in-place retries, backoff 100 ms growing 5x, tiers 1 s and 5 s, 10% jitter. */
const ladder: Ladder = { inPlaceRetries: 2, retryBackoffMs: 100, backoffFactor: 5, retryBackoffMaxMs: 5_000, tiersMs: [1_000, 5_000], tierJitter: 0.1 };

describe('ladder floor', () => {
  it('waits nothing for a clean event, the backoffs for one that recovers in place, and a tier for one that climbs', () => {
    expect(eventWaitMs({ fault: 'none', failures: 0 }, ladder, 'minimum')).toBe(0);
    expect(eventWaitMs({ fault: 'transient', failures: 1 }, ladder, 'minimum')).toBe(50);
    expect(eventWaitMs({ fault: 'transient', failures: 2 }, ladder, 'minimum')).toBe(300);
    expect(eventWaitMs({ fault: 'transient', failures: 3 }, ladder, 'minimum')).toBe(1_300);
    expect(eventWaitMs({ fault: 'transient', failures: 4 }, ladder, 'minimum')).toBe(1_350);
  });

  it('walks a poison event up the whole ladder: 3 visits of 2 backoffs each, and both tiers', () => {
    expect(eventWaitMs({ fault: 'poison', failures: 0 }, ladder, 'minimum')).toBe(3 * 300 + 1_000 + 5_000);
    // Typical: backoffs at 3/4 of their delay (75 + 375 ms), tiers plus half the 10% jitter.
    expect(eventWaitMs({ fault: 'poison', failures: 0 }, ladder, 'typical')).toBeCloseTo(3 * 450 + 1_050 + 5_250, 6);
  });

  it("ends an account no earlier than any event's publish plus the waits of it and the account's later events", () => {
    const events: PublishedFault[] = [
      { account: 'a', publishedAtMs: 1_000, fault: 'poison', failures: 0 },
      { account: 'a', publishedAtMs: 1_100, fault: 'none', failures: 0 },
      { account: 'a', publishedAtMs: 9_000, fault: 'transient', failures: 3 },
      { account: 'b', publishedAtMs: 3_000, fault: 'poison', failures: 0 },
      { account: 'b', publishedAtMs: 3_500, fault: 'poison', failures: 0 },
    ];
    const { floorMs, account, byAccount } = ladderFloor(events, ladder, 'minimum');
    // a: from its first event, 6.9 s + 1.3 s = 8.2 s; from its last, published 8 s after the start, 1.3 s: 9.3 s.
    expect(byAccount.get('a')).toBe(9_300);
    // b: two poison events one after the other, from 2 s after the start: 2 + 2 × 6.9 s.
    expect(byAccount.get('b')).toBe(15_800);
    expect([floorMs, account]).toEqual([15_800, 'b']);
  });
});
