/**
 * Claims the events of fetched source records before they start, a window at a time: the records about to
 * start are claimed together (the Redis store sends the claims made in one turn of the event loop in one
 * call), so a record usually finds its claim taken when its turn comes, and the round trip overlaps the queue
 * instead of delaying the handler.
 *
 * The lease counts from the claim. A record that starts while its claim is fresh (its remaining lease still
 * covers the longest time a claim goes unrenewed) uses it as is; one that waited longer claims again with the
 * same token (a renewal, or a new claim if the lease ran out meanwhile). A claim whose call failed (Redis may
 * have taken it and the reply was lost) is claimed again with the same token too, never waited out. A `done`,
 * `conflict` or `busy` answer is asked again when the record starts, as without claims ahead.
 *
 * Claims ahead belong to this consumer instance. One taken ahead and not used (the record was dropped at a
 * rebalance, a restart of the Kafka client or a stop, went to the DLT before its claim step, or was forwarded
 * behind a parked key) is released, and until Redis confirms the release its token is remembered as
 * {@link ClaimAhead.droppedTokenOf}: no handler ever ran with it, so when this instance meets the event again
 * (the record fetched again in the next generation, under a new member id) it takes that claim over at once
 * instead of waiting out its own lease. At most `window` claims wait unused at once (the handler slots' worth),
 * which bounds what a member that crashes leaves leased.
 */
import { FifoQueue } from '../ordering/fifo-queue.ts';
import type { ClaimResult, IdempotencyStore } from './idempotency-store.ts';

/** A claim taken ahead of a record's start. */
export interface ClaimTakenAhead {
  eventId: string;
  payloadHash: string;
  token: string;
  /** Date.now() when the claim was sent: its lease counts from no later than this. */
  claimedAt: number;
  /** The store's answer; undefined when the call failed (Redis may have taken the claim: ask again with `token`). */
  result: Promise<ClaimResult | undefined>;
}

export interface ClaimAheadOptions<R> {
  store: IdempotencyStore;
  leaseMs: number;
  /** Claims taken ahead and not used yet, at most. */
  window: number;
  /** The record's event id and payload hash, as its claim step will ask for them. */
  eventOf: (record: R) => { eventId: string; payloadHash: string };
  /** A new fencing token (the owner of the current assignment and a claim number). */
  nextToken: (owner: string) => string;
}

export class ClaimAhead<R extends object> {
  private readonly options: ClaimAheadOptions<R>;
  /** Offered, not claimed yet, in fetch order. */
  private waiting = new FifoQueue<R>();
  private readonly taken = new Map<R, ClaimTakenAhead>();
  /** Records that reached their claim step, or settled, with no claim taken ahead: never claimed ahead after that. */
  private readonly started = new WeakSet<R>();
  /**
   * Tokens of claims ahead dropped unused (released, the release not confirmed yet, or lost), by event id,
   * oldest first: at most {@link droppedLimit}.
   */
  private readonly dropped = new Map<string, string>();
  private readonly droppedLimit: number;
  /** Claims sent: for tests and the bench. */
  claimsSent = 0;

  constructor(options: ClaimAheadOptions<R>) {
    this.options = options;
    this.droppedLimit = Math.max(1_024, 16 * options.window);
  }

  /**
   * The token of this instance's claim ahead of `eventId` that was dropped unused, if its release is not
   * confirmed: a claim of the event may take it over (`takeOver` in the claim request).
   */
  droppedTokenOf(eventId: string): string | undefined {
    return this.dropped.size > 0 ? this.dropped.get(eventId) : undefined;
  }

  /** A claim of `eventId` succeeded: a dropped claim ahead of it is gone (taken over, or released). */
  claimed(eventId: string): void {
    if (this.dropped.size > 0) this.dropped.delete(eventId);
  }

  /** Claims held ahead and not used yet. */
  get size(): number {
    return this.taken.size;
  }

  /** A fetched source record that will reach a claim step. */
  offer(record: R): void {
    this.waiting.push(record);
  }

  /**
   * Claims offered records, in fetch order, until `window` claims wait unused; only once half the window is
   * used, so each store call claims at least half a window (not one event per record started).
   */
  fill(owner: string): void {
    if (this.taken.size > this.options.window / 2) return;
    while (this.taken.size < this.options.window) {
      const record = this.waiting.shift();
      if (record === undefined) return;
      if (this.started.has(record)) continue;
      const { eventId, payloadHash } = this.options.eventOf(record);
      const token = this.options.nextToken(owner);
      const claimedAt = Date.now();
      this.claimsSent++;
      const takeOver = this.droppedTokenOf(eventId);
      const result = this.options.store.claim({ eventId, payloadHash, fencingToken: token, leaseMs: this.options.leaseMs, takeOver }).then(
        (answer) => {
          if (answer.status === 'claimed' && takeOver !== undefined && this.dropped.get(eventId) === takeOver) this.dropped.delete(eventId);
          return answer;
        },
        () => undefined,
      );
      this.taken.set(record, { eventId, payloadHash, token, claimedAt, result });
    }
  }

  /** The claim taken ahead for the record, if any; from now on the record's processing owns it. */
  take(record: R): ClaimTakenAhead | undefined {
    const claim = this.taken.get(record);
    if (claim) this.taken.delete(record);
    else this.started.add(record);
    return claim;
  }

  /** Whether a claim taken at `claimedAt` still has `neededMs` of its lease left (a margin of a second kept). */
  isFresh(claim: ClaimTakenAhead, neededMs: number, now = Date.now()): boolean {
    return claim.claimedAt + this.options.leaseMs - now > neededMs + 1_000;
  }

  /**
   * The record is settled: a claim taken ahead for it and never used is released, and a record not claimed
   * yet never will be (it settled without a claim step: forwarded behind a parked key, say; a claim taken for it
   * now would hold its event's lease, and its copy on the retry tier would wait that lease out).
   */
  settled(record: R): void {
    const claim = this.taken.get(record);
    if (!claim) {
      this.started.add(record);
      return;
    }
    this.taken.delete(record);
    this.release(claim);
  }

  /** A new assignment: every claim waiting unused is released, and nothing offered before is claimed. */
  reset(): void {
    for (const claim of this.taken.values()) this.release(claim);
    this.taken.clear();
    this.waiting = new FifoQueue<R>();
  }

  /**
   * Releases a claim taken ahead and never used: also one whose call failed (Redis may have taken it). Until
   * the release is confirmed its token stays in {@link dropped}, so this instance takes the claim over if it
   * meets the event again; a release that fails leaves it there (and the lease runs out for anyone else).
   */
  private release(claim: ClaimTakenAhead): void {
    this.remember(claim.eventId, claim.token);
    void claim.result
      .then((result) => (result === undefined || result.status === 'claimed' ? this.options.store.release(claim.eventId, claim.token) : undefined))
      .then(
        () => {
          if (this.dropped.get(claim.eventId) === claim.token) this.dropped.delete(claim.eventId);
        },
        () => undefined,
      );
  }

  private remember(eventId: string, token: string): void {
    this.dropped.delete(eventId);
    this.dropped.set(eventId, token);
    if (this.dropped.size > this.droppedLimit) this.dropped.delete(this.dropped.keys().next().value!);
  }
}
