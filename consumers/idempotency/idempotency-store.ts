/**
 * Remembers which events a consumer group completed, so a redelivered event is not handled twice.
 * A claim is a lease held while handling, carrying a fencing token (member and assignment epoch): once a
 * member lost the partition and another claimed the event, the first can no longer complete it.
 */
export type ClaimResult =
  /** Handle it; complete or release with this token. */
  | { status: 'claimed'; token: string }
  /** Completed before with the same payload: skip it. */
  | { status: 'done' }
  /** Completed before with another payload: the same id for two events (`id-conflict`). */
  | { status: 'conflict' }
  /**
   * Another holder's lease is alive: ask again after the given time. `holder` is its fencing token (member,
   * generation and claim number: no payload), for the warning a wait logs.
   */
  | { status: 'busy'; retryAfterMs: number; holder?: string };

export interface ClaimRequest {
  eventId: string;
  /** Hash of the payload, to tell a redelivery from an id reused for other content. */
  payloadHash: string;
  /** Identifies this holder: `memberId/epoch`. */
  fencingToken: string;
  leaseMs: number;
  /**
   * A token of this consumer's own earlier claim of the event that no handler ever used (a claim taken ahead,
   * dropped at a restart of the Kafka client or a rebalance, whose release may not have arrived, or whose reply
   * was lost): found holding the lease, it is taken over at once instead of waited out as another holder's.
   */
  takeOver?: string;
}

export interface IdempotencyStore {
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Marks the event done (handled, or with `deadLettered` sent to the DLT). `'fenced'` when the claim is no
   * longer this token's (lease lost to another holder).
   */
  complete(eventId: string, token: string, payloadHash: string, outcome?: { deadLettered: boolean }): Promise<'completed' | 'fenced'>;
  /**
   * Forgets a dead-lettered event so a replay handles it again; a handled event stays done (`false`). An event
   * with no done marker yet (its dead-lettering may still be in flight) gets a replay request: the `dlt:`
   * marker written after it does not make the replayed copy a duplicate.
   */
  forgetDeadLettered(eventId: string): Promise<boolean>;
  /** Gives the claim up after a failed attempt, so a retry (here or elsewhere) may claim it. */
  release(eventId: string, token: string): Promise<void>;
  /**
   * Whether the event is settled: done, handled or dead-lettered (a done marker exists). The consumer asks it
   * of a parked key's head that never comes back (its queue advance was lost), to move the queue past it. A
   * store without it leaves such a key parked until `orderly keys release` or a replay.
   */
  isSettled?(eventId: string): Promise<boolean>;
}
