/**
 * Watches the Kafka client's consumer loop from its instrumentation events, so that it never stops silently.
 *
 * kafkajs 2.2.4 runs a fetch loop that reports each fetch (`FETCH_START`, `FETCH`: every fetch wait, also when
 * every partition is paused or a fetch came back empty), a rebalance it saw (`REBALANCING`: its fetchers are
 * stopped first) and the join that ends it (`GROUP_JOIN`). Two ways it can leave a member waiting:
 * - **a rejoin it abandons**: when the coordinator moves (a broker restarts), a heartbeat answered NOT_COORDINATOR
 *   counts as a rebalance; if the JoinGroup that follows fails with an error its runner retries
 *   (GROUP_LOAD_IN_PROGRESS while the new coordinator loads the group, a refused connection), the retry goes
 *   back to fetching in the previous generation and no `GROUP_JOIN` comes. A fetch starting while a rebalance
 *   is open is that case: {@link ClientLivenessWatchOptions.onResumedWithoutJoin}.
 * - **a loop that neither joins nor fetches** for `stallTimeoutMs` (a join that never returns, a fetch loop that
 *   ended without a crash): {@link ClientLivenessWatchOptions.onStalled}, once, until the client shows life again.
 * - **commits sent to a coordinator that is no longer one**: kafkajs keeps the group coordinator of its last join
 *   for its commits; after the coordinator moved (and a rejoin was abandoned, above) every commit is refused with
 *   NOT_COORDINATOR (or fails on "Broker n not found in the cached metadata" while that node is away) until the
 *   next join, which may never come: records are handled but nothing is committed. Such refusals without a
 *   commit going through for {@link commitStallMs} (3 at least) are a stall too (`commit`): only a new join helps.
 * While the client is down after a crash (its own recovery runs) or the member stops, nothing is reported.
 */

export type ClientStallReason = 'rebalance' | 'fetch' | 'commit' | 'transaction';

export interface ClientStall {
  /**
   * `rebalance`: a rebalance began and no join (nor fetch) followed; `fetch`: no fetch, no rebalance; `commit`:
   * commits refused by a coordinator that is no longer one (or one no longer known); `transaction`: a shard's
   * transaction failed (`transactional: true`), reported by the member, not by this watch.
   */
  reason: ClientStallReason;
  stalledForMs: number;
}

export interface ClientLivenessWatchOptions {
  /** No join and no fetch for this long is a stall. */
  stallTimeoutMs: number;
  /** The client fetches again after a rebalance began, without having joined: it kept its previous generation. */
  onResumedWithoutJoin(rebalanceOpenForMs: number): void;
  onStalled(stall: ClientStall): void;
  /** False while the member does not expect the client to run (not started, stopping, down after a crash). */
  expectsClient(): boolean;
  now?: () => number;
}

export class ClientLivenessWatch {
  private readonly options: ClientLivenessWatchOptions;
  private readonly now: () => number;
  private lastSignOfLifeAt: number;
  private rebalanceSince: number | undefined;
  private reported = false;
  private coordinatorLostSince: number | undefined;
  private coordinatorLostFailures = 0;

  constructor(options: ClientLivenessWatchOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.lastSignOfLifeAt = this.now();
  }

  get stallTimeoutMs(): number {
    return this.options.stallTimeoutMs;
  }

  /** True from a `REBALANCING` until the join (or a fetch in the previous generation). */
  get rebalanceOpen(): boolean {
    return this.rebalanceSince !== undefined;
  }

  /** Commits refused for a lost coordinator, with none going through, for this long are a stall: half the timeout, at most 30 s. */
  get commitStallMs(): number {
    return Math.min(30_000, this.options.stallTimeoutMs / 2);
  }

  /** How often to {@link check}: a fifth of the timeout, between 100 ms and 5 s. */
  get checkIntervalMs(): number {
    return Math.min(5_000, Math.max(100, this.options.stallTimeoutMs / 5));
  }

  /** kafkajs `REBALANCING`. */
  rebalancing(): void {
    this.rebalanceSince ??= this.now();
    this.lastSignOfLifeAt = this.now();
  }

  /** kafkajs `GROUP_JOIN`; also the start of the client (its first join comes later). */
  joined(): void {
    this.rebalanceSince = undefined;
    this.committed(); // a join brings the current coordinator
    this.alive();
  }

  /** kafkajs `FETCH_START`: after a rebalance began and before any join, the client went back to its previous generation. */
  fetchStarted(): void {
    const since = this.rebalanceSince;
    this.rebalanceSince = undefined;
    this.alive();
    if (since !== undefined) this.options.onResumedWithoutJoin(this.now() - since);
  }

  /** kafkajs `FETCH`: a fetch came back (records or not). */
  fetched(): void {
    this.alive();
  }

  /** The client was (re)started by the member or by its crash recovery: its clock starts over. */
  restarted(): void {
    this.rebalanceSince = undefined;
    this.committed();
    this.alive();
  }

  /** A commit went through. */
  committed(): void {
    this.coordinatorLostSince = undefined;
    this.coordinatorLostFailures = 0;
  }

  /** A commit failed; `coordinatorLost`: refused as sent to a coordinator that is not one (or no longer known). */
  commitFailed(coordinatorLost: boolean): void {
    if (!coordinatorLost) return;
    this.coordinatorLostSince ??= this.now();
    this.coordinatorLostFailures++;
  }

  check(): void {
    if (!this.options.expectsClient()) {
      // Down after a crash or stopping: the crash recovery reports that; the clock starts when the client is expected again.
      this.lastSignOfLifeAt = this.now();
      return;
    }
    if (this.reported) return;
    const stalledForMs = this.now() - this.lastSignOfLifeAt;
    if (stalledForMs >= this.options.stallTimeoutMs) {
      this.reported = true;
      this.options.onStalled({ reason: this.rebalanceSince === undefined ? 'fetch' : 'rebalance', stalledForMs });
      return;
    }
    const refusedForMs = this.coordinatorLostSince === undefined ? 0 : this.now() - this.coordinatorLostSince;
    if (this.coordinatorLostFailures >= 3 && refusedForMs >= this.commitStallMs) {
      this.reported = true;
      this.options.onStalled({ reason: 'commit', stalledForMs: refusedForMs });
    }
  }

  private alive(): void {
    this.lastSignOfLifeAt = this.now();
    this.reported = false;
  }
}
