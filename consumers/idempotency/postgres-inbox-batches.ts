/**
 * Group commit for {@link PostgresInbox.batchHandler}: handler calls that arrive together share one transaction
 * on one pooled connection. Per batch: `begin`; one multi-row insert of the inbox rows (`returning` the new
 * ones; the others are resolved as the per-event inbox does: applied before, or an id conflict); each new
 * event's handler in a savepoint of its own (a failure rolls back to it and deletes that event's inbox row, and
 * that event's call rejects at once: it takes its own retry path, the others go on); one `commit`, then every
 * applied event's call resolves. A commit that fails rejects every applied event: nothing of the batch is
 * recorded, and they are retried.
 *
 * A batch is aborted when the signal of any of its events is (handler timeout, consumer stopping): one slow
 * handler must not keep the transaction of the others open past their own timeouts, where they would be given
 * up as hung. The connection is destroyed (its server process terminated: the transaction rolls back and its
 * row locks go), the calls of events already run reject with a {@link RetryableError} (nothing is recorded;
 * they are retried), the call of the event running rejects with its own abort reason, and the events not yet
 * run go back to the queue untouched. The event that was running when its batch was aborted is remembered (the
 * last 1,024): its next attempts run in a batch of their own, so a slow event costs its neighbours one attempt
 * at most. (With a {@link BatchApplier}, an abort during the one `apply` of many events names no event.)
 */
import type { Pool, PoolClient } from 'pg';
import { IdConflictError, RetryableError } from '../../core/errors.ts';
import type { HandledEvent, HandlerContext } from '../options.ts';
import { connectWaitingOutRefusals, terminateBackend } from './postgres-connection.ts';

/** A handler given the transaction that records its event in the inbox (see {@link PostgresInbox}). */
export type TransactionalHandler<T> = (event: HandledEvent<T>, transaction: PoolClient, context: HandlerContext) => Promise<void>;

/**
 * The batch mode's second form, for handlers whose writes can be made for many events at once: `check` runs per
 * event and writes nothing (it throws to fail that event alone), `apply` makes the writes of every event that
 * passed, in one go. When `apply` throws, its writes are rolled back and the events are applied again one at a
 * time (`apply([event])`, each in a savepoint of its own), so only the failing one fails: the same outcome per
 * event as the handler form, with one statement per batch instead of one (and a savepoint) per event.
 */
export interface BatchApplier<T> {
  /** Per event, before any write: throw to fail the event alone (it takes its own retry or DLT path). */
  check?: (event: HandledEvent<T>, context: HandlerContext) => void | Promise<void>;
  /** The writes of the events, in the batch's transaction (not to be committed, rolled back or released here). */
  apply: (events: readonly HandledEvent<T>[], transaction: PoolClient) => Promise<void>;
}

export interface InboxBatchOptions {
  /**
   * Events in one transaction at most, 1 to 10000. Above 64, the savepoints of one transaction overflow
   * PostgreSQL's per-transaction subtransaction cache, which slows every session's snapshots. @defaultValue 64
   */
  maxBatchEvents?: number;
  /**
   * How long the first event of a batch waits for others to join, in ms, when a batch could start at once;
   * 0: the events that arrive in the same turn of the event loop. While every batch slot is busy, events
   * gather anyway, and a freed slot takes them at once. 0 to 1000. @defaultValue 0
   */
  maxWaitMs?: number;
  /** Batches (transactions, each on a pooled connection of its own) in flight at once, at least 1. @defaultValue 2 */
  maxBatchesInFlight?: number;
}

interface Entry<T> {
  event: HandledEvent<T>;
  context: HandlerContext;
  resolve: () => void;
  reject: (error: unknown) => void;
  state: 'queued' | 'batched' | 'running' | 'applied' | 'settled';
  batch: Batch<T> | undefined;
  onAbort: () => void;
}

interface Batch<T> {
  entries: Entry<T>[];
  aborted: boolean;
  abortReason: unknown;
  controller: AbortController;
  /** Rejects when the batch is aborted: every await of the batch races it. */
  abortion: Promise<never>;
  fail: (reason: unknown) => void;
  client: PoolClient | undefined;
}

/** Events whose handler was running when its batch was aborted, at most: they run alone next time. */
const maxSuspects = 1_024;

/** Races a promise against the batch's abort. */
type Guard = <R>(promise: Promise<R>) => Promise<R>;

export class InboxBatches<T> {
  readonly #pool: Pool;
  readonly #table: string;
  readonly #groupId: string;
  readonly #handle: TransactionalHandler<T> | BatchApplier<T>;
  readonly #maxBatchEvents: number;
  readonly #maxWaitMs: number;
  readonly #maxInFlight: number;
  #queue: Entry<T>[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #suspects = new Set<string>();

  constructor(pool: Pool, table: string, groupId: string, handle: TransactionalHandler<T> | BatchApplier<T>, options: InboxBatchOptions) {
    const { maxBatchEvents = 64, maxWaitMs = 0, maxBatchesInFlight = 2 } = options;
    const problems: string[] = [];
    if (!Number.isInteger(maxBatchEvents) || maxBatchEvents < 1 || maxBatchEvents > 10_000) problems.push(`maxBatchEvents (${maxBatchEvents}) must be a whole number from 1 to 10000`);
    if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0 || maxWaitMs > 1_000) problems.push(`maxWaitMs (${maxWaitMs}) must be from 0 to 1000 ms`);
    if (!Number.isInteger(maxBatchesInFlight) || maxBatchesInFlight < 1) problems.push(`maxBatchesInFlight (${maxBatchesInFlight}) must be a whole number of at least 1`);
    if (problems.length > 0) throw new Error(`PostgresInbox.batchHandler: ${problems.join('; ')}`);
    this.#pool = pool;
    this.#table = table;
    this.#groupId = groupId;
    this.#handle = handle;
    this.#maxBatchEvents = maxBatchEvents;
    this.#maxWaitMs = maxWaitMs;
    this.#maxInFlight = maxBatchesInFlight;
  }

  /** Resolves once the event is applied and committed (or found applied before); rejects as described above. */
  submit(event: HandledEvent<T>, context: HandlerContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { signal } = context;
      if (signal.aborted) return reject(signal.reason);
      const entry: Entry<T> = {
        event,
        context,
        resolve: () => undefined,
        reject: () => undefined,
        state: 'queued',
        batch: undefined,
        onAbort: () => this.#aborted(entry),
      };
      entry.resolve = () => this.#settle(entry, () => {
        this.#suspects.delete(event.eventId);
        resolve();
      });
      entry.reject = (error) => this.#settle(entry, () => reject(error));
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.#queue.push(entry);
      this.#schedule(false);
    });
  }

  #settle(entry: Entry<T>, settle: () => void): void {
    if (entry.state === 'settled') return;
    entry.state = 'settled';
    entry.context.signal.removeEventListener('abort', entry.onAbort);
    settle();
  }

  /** An event's attempt was aborted: out of the queue, or its whole batch aborted. */
  #aborted(entry: Entry<T>): void {
    const reason = entry.context.signal.reason;
    if (entry.state === 'queued') {
      this.#queue = this.#queue.filter((queued) => queued !== entry);
      entry.reject(reason);
    } else if (entry.batch && entry.state !== 'settled') {
      entry.batch.fail(reason);
    }
  }

  #schedule(slotFreed: boolean): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      if (!slotFreed && this.#queue.length < this.#maxBatchEvents) {
        // Wait a moment for others to join (they gather anyway while every slot is busy).
        this.#timer ??= this.#maxWaitMs > 0 ? setTimeout(this.#onTimer, this.#maxWaitMs) : setImmediate(this.#onTimer);
        return;
      }
      this.#flush();
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#schedule(true);
  };

  /** Takes the next batch from the queue (never two calls of one event id in one batch) and runs it. */
  #flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer as NodeJS.Timeout);
      clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    const taken: Entry<T>[] = [];
    const ids = new Set<string>();
    const left: Entry<T>[] = [];
    for (const entry of this.#queue) {
      const id = entry.event.eventId;
      const suspect = this.#suspects.has(id);
      const fits = taken.length < this.#maxBatchEvents && !ids.has(id) && (suspect ? taken.length === 0 : !taken.some((other) => this.#suspects.has(other.event.eventId)));
      if (fits) {
        taken.push(entry);
        ids.add(id);
      } else left.push(entry);
    }
    this.#queue = left;
    this.#inFlight++;
    void this.#run(taken).finally(() => {
      this.#inFlight--;
      this.#schedule(true);
    });
  }

  async #run(entries: Entry<T>[]): Promise<void> {
    let fail!: (reason: unknown) => void;
    const abortion = new Promise<never>((_, reject) => (fail = reject));
    abortion.catch(() => undefined);
    const batch: Batch<T> = { entries, aborted: false, abortReason: undefined, controller: new AbortController(), abortion, fail: () => undefined, client: undefined };
    batch.fail = (reason) => {
      if (batch.aborted) return;
      batch.aborted = true;
      batch.abortReason = reason;
      batch.controller.abort(reason);
      fail(reason);
    };
    for (const entry of entries) {
      entry.state = 'batched';
      entry.batch = batch;
    }
    const guard: Guard = (promise) => Promise.race([promise, batch.abortion]);
    let broken = false;
    try {
      const connecting = connectWaitingOutRefusals(this.#pool, () => batch.controller.signal);
      connecting.then((client) => batch.aborted && client.release(true), () => undefined);
      const client = await guard(connecting);
      batch.client = client;
      // Sent without waiting: on a pool made with `pipeline: true` it shares a round trip with the insert.
      const begun = quietly(client.query('begin'));
      const ordered = [...entries].sort((a, b) => (a.event.eventId < b.event.eventId ? -1 : 1)); // one lock order for every batch
      const insertion = client.query<{ event_id: string }>(
        `insert into ${this.#table} (group_id, event_id, payload_hash)
         select $1, event_id, payload_hash from unnest($2::text[], $3::text[]) as rows(event_id, payload_hash)
         on conflict do nothing returning event_id`,
        [this.#groupId, ordered.map((entry) => entry.event.eventId), ordered.map((entry) => entry.event.payloadHash)],
      );
      await guard(begun);
      const { rows } = await guard(insertion);
      const inserted = new Set(rows.map((row) => row.event_id));
      const seen = entries.filter((entry) => !inserted.has(entry.event.eventId));
      if (seen.length > 0) await this.#resolveSeen(client, seen, guard);
      const fresh = entries.filter((entry) => inserted.has(entry.event.eventId) && entry.state !== 'settled');
      if (typeof this.#handle === 'function') await this.#handleEach(client, fresh, this.#handle, batch, guard);
      else await this.#applyAll(client, fresh, this.#handle, batch, guard);
      // A transaction PostgreSQL aborted (a failed statement a handler caught) answers `commit` with ROLLBACK
      // and no error: nothing was written, so nothing may resolve.
      const committed = await guard(client.query('commit'));
      if (committed.command !== 'COMMIT') throw new RetryableError(`the inbox batch was rolled back at commit (${committed.command}): a statement failed inside it`);
      for (const entry of entries) if (entry.state === 'applied') entry.resolve();
    } catch (error) {
      broken = true;
      this.#failed(batch, error);
    } finally {
      const client = batch.client;
      if (client) {
        if (batch.aborted) {
          const processId = (client as unknown as { processID?: number }).processID;
          client.release(true);
          void terminateBackend(this.#pool, processId);
        } else if (broken) {
          await client.query('rollback').then(
            () => client.release(),
            () => client.release(true),
          );
        } else client.release();
      }
    }
  }

  /** The handler form: each event's handler in turn, in a savepoint of its own. */
  async #handleEach(client: PoolClient, fresh: Entry<T>[], handle: TransactionalHandler<T>, batch: Batch<T>, guard: Guard): Promise<void> {
    // The event before is applied only once its savepoint is released: a handler that caught a failed
    // statement returns normally with the transaction aborted, and the release then fails. That event is undone
    // alone (rolled back to its savepoint, inbox row deleted, rejected) instead of resolving with nothing written.
    let previous: Entry<T> | undefined;
    const confirmPrevious = async () => {
      if (!previous) return;
      const entry = previous;
      previous = undefined;
      try {
        await guard(client.query('release savepoint orderly_event'));
      } catch (error) {
        if (batch.aborted) throw error;
        await this.#undoOne(client, entry, 'orderly_event', new RetryableError(`event ${entry.event.eventId}: a statement failed inside its handler's transaction (the handler returned anyway)`, { cause: error }), guard);
      }
    };
    for (const entry of fresh) {
      await confirmPrevious();
      entry.state = 'running';
      try {
        await guard(client.query('savepoint orderly_event'));
        await guard(handle(entry.event, client, entry.context));
        entry.state = 'applied';
        previous = entry;
      } catch (error) {
        if (batch.aborted) throw error;
        await this.#undoOne(client, entry, 'orderly_event', error, guard);
      }
    }
    await confirmPrevious();
  }

  /**
   * The applier form: `check` per event (a failure deletes that event's inbox row and rejects it), then one
   * `apply` for all that passed; if it fails, rolled back and applied again one event at a time.
   */
  async #applyAll(client: PoolClient, fresh: Entry<T>[], applier: BatchApplier<T>, batch: Batch<T>, guard: Guard): Promise<void> {
    const passed: Entry<T>[] = [];
    const failed: { entry: Entry<T>; error: unknown }[] = [];
    for (const entry of fresh) {
      entry.state = 'running';
      try {
        if (applier.check) await guard(Promise.resolve(applier.check(entry.event, entry.context)));
        entry.state = 'batched';
        passed.push(entry);
      } catch (error) {
        if (batch.aborted) throw error;
        failed.push({ entry, error });
      }
    }
    if (failed.length > 0) {
      await guard(client.query(`delete from ${this.#table} where group_id = $1 and event_id = any($2::text[])`, [this.#groupId, failed.map(({ entry }) => entry.event.eventId)]));
      for (const { entry, error } of failed) entry.reject(error);
    }
    if (passed.length === 0) return;
    // Should the batch be aborted during a multi-event apply, no event can be told to be the slow one: all of
    // them reject as retryable (state 'applied'), and none is made to run alone.
    for (const entry of passed) entry.state = 'applied';
    const marked = quietly(client.query('savepoint orderly_batch'));
    try {
      await guard(applier.apply(passed.map((entry) => entry.event), client));
      await guard(marked);
      return;
    } catch (error) {
      if (batch.aborted || passed.length === 1) {
        if (batch.aborted) throw error;
        return this.#undoOne(client, passed[0]!, 'orderly_batch', error, guard);
      }
      await guard(client.query('rollback to savepoint orderly_batch'));
    }
    await this.#handleEach(client, passed, (event, transaction) => applier.apply([event], transaction), batch, guard); // 'running' one at a time
  }

  /** One event failed: its writes and its inbox row go (back to its savepoint), its call rejects; the batch goes on. */
  async #undoOne(client: PoolClient, entry: Entry<T>, savepoint: string, error: unknown, guard: Guard): Promise<void> {
    const rolledBack = quietly(client.query(`rollback to savepoint ${savepoint}`));
    const deleted = quietly(client.query(`delete from ${this.#table} where group_id = $1 and event_id = $2`, [this.#groupId, entry.event.eventId]));
    await guard(rolledBack);
    await guard(deleted);
    entry.reject(error);
  }

  /** Events whose inbox row was there already: applied before (nothing to do), or an id conflict. */
  async #resolveSeen(client: PoolClient, seen: Entry<T>[], guard: Guard): Promise<void> {
    const { rows } = await guard(
      client.query<{ event_id: string; payload_hash: string }>(`select event_id, payload_hash from ${this.#table} where group_id = $1 and event_id = any($2::text[])`, [
        this.#groupId,
        seen.map((entry) => entry.event.eventId),
      ]),
    );
    const hashes = new Map(rows.map((row) => [row.event_id, row.payload_hash]));
    for (const entry of seen) {
      const hash = hashes.get(entry.event.eventId);
      if (hash === entry.event.payloadHash) entry.resolve(); // applied before: nothing to do
      else if (hash === undefined) entry.reject(new RetryableError(`inbox row of event ${entry.event.eventId} neither inserted nor found: try again`));
      else entry.reject(new IdConflictError(`event id ${entry.event.eventId} was applied before with another payload`));
    }
  }

  /** The batch failed or was aborted: see the module comment for who rejects and who goes back to the queue. */
  #failed(batch: Batch<T>, error: unknown): void {
    const requeue: Entry<T>[] = [];
    for (const entry of batch.entries) {
      if (entry.state === 'settled') continue;
      const ownSignal = entry.context.signal;
      if (entry.state === 'applied') {
        entry.reject(new RetryableError(`inbox batch not committed (${describe(batch.aborted ? batch.abortReason : error)}): event ${entry.event.eventId} not applied`, { cause: error }));
      } else if (entry.state === 'running') {
        if (batch.aborted) this.#suspect(entry.event.eventId);
        if (ownSignal.aborted || !batch.aborted) entry.reject(ownSignal.aborted ? ownSignal.reason : error);
        else entry.reject(new RetryableError(`inbox batch aborted (${describe(batch.abortReason)}) while event ${entry.event.eventId} ran: not applied`, { cause: error }));
      } else if (batch.aborted && !ownSignal.aborted) {
        entry.state = 'queued';
        entry.batch = undefined;
        requeue.push(entry);
      } else {
        entry.reject(ownSignal.aborted ? ownSignal.reason : error);
      }
    }
    this.#queue = [...requeue, ...this.#queue];
  }

  #suspect(eventId: string): void {
    this.#suspects.delete(eventId);
    this.#suspects.add(eventId);
    if (this.#suspects.size > maxSuspects) this.#suspects.delete(this.#suspects.values().next().value!);
  }
}

/** The same promise, with its rejection marked handled (it is awaited later, or the batch fails before). */
function quietly<R>(promise: Promise<R>): Promise<R> {
  promise.catch(() => undefined);
  return promise;
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
