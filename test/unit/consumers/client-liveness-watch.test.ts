import { describe, expect, it } from 'vitest';
import { ClientLivenessWatch, type ClientStall } from '../../../consumers/lifecycle/client-liveness-watch.ts';

function setup({ expectsClient = (): boolean => true } = {}) {
  let now = 1_000_000;
  const resumed: number[] = [];
  const stalls: ClientStall[] = [];
  const watch = new ClientLivenessWatch({
    stallTimeoutMs: 60_000,
    expectsClient,
    onResumedWithoutJoin: (openMs) => resumed.push(openMs),
    onStalled: (stall) => stalls.push(stall),
    now: () => now,
  });
  const advance = (ms: number) => {
    now += ms;
    watch.check();
  };
  return { watch, resumed, stalls, advance };
}

describe('ClientLivenessWatch', () => {
  it('a fetch after a rebalance began, with no join between, is the client going on in its previous generation', () => {
    const { watch, resumed, stalls, advance } = setup();
    watch.rebalancing();
    advance(1_500);
    watch.fetchStarted();
    expect(resumed).toEqual([1_500]);
    expect(watch.rebalanceOpen).toBe(false);
    // Fetches after that are plain fetches.
    watch.fetchStarted();
    expect(resumed).toHaveLength(1);
    expect(stalls).toEqual([]);
  });

  it('a rebalance that ends in a join is no resumption, and fetches keep the client alive indefinitely', () => {
    const { watch, resumed, stalls, advance } = setup();
    watch.rebalancing();
    advance(20_000);
    watch.joined();
    watch.fetchStarted();
    for (let i = 0; i < 100; i++) {
      advance(10_000);
      watch.fetched();
    }
    expect(resumed).toEqual([]);
    expect(stalls).toEqual([]);
  });

  it('no join for the timeout after a rebalance began is a rebalance stall, reported once until the client shows life', () => {
    const { watch, stalls, advance } = setup();
    watch.fetched();
    watch.rebalancing();
    advance(59_999);
    expect(stalls).toEqual([]);
    advance(1);
    expect(stalls).toEqual([{ reason: 'rebalance', stalledForMs: 60_000 }]);
    advance(60_000);
    expect(stalls).toHaveLength(1);
    watch.restarted();
    advance(30_000);
    watch.joined();
    advance(59_000);
    expect(stalls).toHaveLength(1);
  });

  it('no fetch for the timeout, no rebalance, is a fetch stall', () => {
    const { watch, stalls, advance } = setup();
    watch.fetched();
    advance(61_000);
    expect(stalls).toEqual([{ reason: 'fetch', stalledForMs: 61_000 }]);
  });

  it('reports nothing while the client is not expected to run (down after a crash, stopping), and its clock starts when it is', () => {
    let expected = false;
    const { watch, stalls, advance } = setup({ expectsClient: () => expected });
    watch.fetched();
    advance(300_000);
    expect(stalls).toEqual([]);
    expected = true;
    advance(59_000);
    expect(stalls).toEqual([]);
    advance(1_000);
    expect(stalls).toEqual([{ reason: 'fetch', stalledForMs: 60_000 }]);
  });

  it('commits refused by a lost coordinator for half the timeout (3 at least), none going through, are a commit stall; a commit or a join clears them', () => {
    const { watch, stalls, advance } = setup();
    const fetchFor = (ms: number) => {
      for (let t = 0; t < ms; t += 1_000) {
        advance(1_000);
        watch.fetched();
      }
    };
    watch.commitFailed(false); // other failures (a timeout) are not this
    watch.commitFailed(true);
    fetchFor(20_000);
    watch.commitFailed(true);
    watch.committed();
    fetchFor(40_000);
    expect(stalls).toEqual([]);
    watch.commitFailed(true);
    watch.commitFailed(true);
    fetchFor(30_000);
    expect(stalls).toEqual([]); // two refusals only
    watch.commitFailed(true);
    fetchFor(1_000);
    expect(stalls).toEqual([{ reason: 'commit', stalledForMs: 31_000 }]);
    watch.joined();
    watch.commitFailed(true);
    fetchFor(40_000);
    expect(stalls).toHaveLength(1);
  });
});

