/**
 * Publishes the committed rows of an outbox through an {@link EventProducer} and marks them sent (or deletes
 * them), per key in `id` order, which the writer's key lock makes the commit order (docs/outbox.md).
 *
 * A claim is one transaction: lock up to `shardsPerClaim` shards that have pending rows (`FOR UPDATE SKIP
 * LOCKED`: another relay, or another claim of this one, takes other shards), read their pending rows in `id`
 * order through a cursor, `batchSize` at a time, publish each batch while the next is read (up to 8 batches),
 * mark them sent, commit. A key lives in one shard, so one claim at a time publishes it. A relay that dies between the publish and the commit leaves its rows pending (PostgreSQL
 * rolls its transaction back when the connection drops): the next claim republishes them with the same event
 * ids, and consumers drop the duplicates by id. Every claim has a time limit (`claimTimeoutMs`, enforced by the
 * relay and by the session's `idle_in_transaction_session_timeout`), so a frozen relay gives its shards up.
 *
 * Bad rows are reported, never spun on: a row whose topic does not exist, or that the broker refuses for good
 * (too large, say), is marked failed with its reason, counted and logged; it blocks the later rows of its
 * topic and key (their order would break otherwise) and nothing else. `orderly outbox status` lists them;
 * `requeueFailedRows` (`orderly outbox requeue`) puts them back once the cause is fixed.
 *
 * Wake-up: LISTEN on the table's channel (the insert trigger NOTIFYs at commit), with polling every
 * `pollIntervalMs` as the fallback (and the only way when LISTEN is off or its connection is lost).
 */
import pg from 'pg';
import type { PoolClient, QueryResult } from 'pg';
import { OrderlyError } from '../core/errors.ts';
import type { Admin } from '../core/kafka-client.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { isUnknownTopicError } from '../core/kafka-client.ts';
import type { EncodedOutgoingEvent, PublishedEvent } from '../producers/outgoing-event.ts';
import { PublishBatchError } from '../producers/producer-errors.ts';
import { OutboxMetrics } from './outbox-metrics.ts';
import { validateOutboxRelayOptions, type OutboxRelayOptions, type RelayedEvent, type ValidOutboxRelayOptions } from './outbox-options.ts';
import { readOutboxStatus, type OutboxStatus } from './outbox-status.ts';
import { createOutboxTables, outboxState, outboxTableNames, type OutboxTableNames } from './outbox-table.ts';

/** A pending row as a claim reads it ({@link rowColumns}). */
interface OutboxRow {
  id: string;
  topic: string;
  key: Buffer;
  event_id: string;
  event_type: string;
  /** Milliseconds since the epoch. */
  occurred_ms: number;
  traceparent: string | null;
  headers: Record<string, string> | null;
  /** The wire-format value in base64. */
  payload: string;
  /** Milliseconds since the epoch. */
  written_ms: number;
}

/** A row published, as far as the claim still needs it (not its value: a claim keeps up to 8 batches of these). */
interface SentRow {
  id: string;
  writtenMs: number;
  event: PublishedEvent;
}

const sentRow = (row: OutboxRow, event: PublishedEvent): SentRow => ({ id: row.id, writtenMs: row.written_ms, event });

/** What one claim did. */
interface ClaimResult {
  /** Rows read (a full batch means more may be waiting). */
  read: number;
  published: number;
  failed: number;
}

/** A row to mark failed, and why. */
interface FailedRow {
  id: string;
  topic: string;
  /** Its topic and key ({@link keyOf}). */
  key: string;
  reason: 'topic-missing' | 'rejected';
  message: string;
}

const topicCacheMs = 30_000;
const topicRefreshMinMs = 2_000;
const sweepBatch = 5_000;
const maxBackoffMs = 30_000;
/**
 * The columns a claim reads. The value comes as base64 (a third less text than bytea's hex, and faster to
 * decode) and the times as epoch milliseconds (a float, not a timestamp text to parse): reading rows is most of
 * the relay's own CPU per event.
 */
const rowColumns = `o.id, o.topic, o.key, o.event_id, o.event_type, (extract(epoch from o.occurred_at) * 1000)::float8 as occurred_ms, o.traceparent,
  o.headers, encode(o.payload, 'base64') as payload, (extract(epoch from o.written_at) * 1000)::float8 as written_ms`;

/** The cursor a claim reads its rows through (one claim per connection at a time; the commit closes it). */
const claimCursor = 'orderly_outbox_claim';
/**
 * Batches one claim publishes at most (each of `batchSize` rows, the next read while one is in flight), all in
 * its transaction: a relay killed mid-claim republishes them all, under the same ids.
 */
const batchesPerClaim = 8;

/** The distinct topics of rows (a batch mostly holds runs of one topic). */
function topicsOf(rows: readonly OutboxRow[]): Set<string> {
  const topics = new Set<string>();
  let last: string | undefined;
  for (const { topic } of rows) {
    if (topic === last) continue;
    topics.add(topic);
    last = topic;
  }
  return topics;
}

/** A row's topic and key, as one string. */
function keyOf(row: { topic: string; key: Buffer }): string {
  return `${row.topic}\u0000${row.key.toString('latin1')}`;
}

/** A promise and the function that resolves it. */
function wakeSignal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Rejects with a TIMEOUT error when `work` takes longer than `ms` (the work itself goes on, its result unused). */
function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new OrderlyError('TIMEOUT', `${what} took longer than ${ms} ms`, { retriable: true })), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Whether a publish failure is the broker refusing these records for good (not an outage). */
function isPermanentRejection(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 6; cause = (cause as { cause?: unknown }).cause, depth++) {
    const name = (cause as { name?: unknown }).name;
    if (typeof name === 'string' && name.startsWith('KafkaJS') && (cause as { retriable?: unknown }).retriable === false) return true;
    if (cause instanceof OrderlyError && (cause.code === 'ENCODE' || cause.code === 'MISSING_KEY')) return true;
  }
  return false;
}

export class OutboxRelay {
  readonly metrics: OutboxMetrics;
  readonly #options: ValidOutboxRelayOptions;
  readonly #names: OutboxTableNames;
  readonly #logger: Logger;
  readonly #stopping = new AbortController();
  /** Resolved and replaced on every NOTIFY: idle claim loops wait on it. */
  #wake = wakeSignal();
  readonly #loops: Promise<void>[] = [];
  /** Connections in a claim now (stop() ends them when its deadline passes). */
  readonly #active = new Set<PoolClient>();
  #listener: pg.Client | undefined;
  #listening = false;
  #admin: Promise<Admin> | undefined;
  #topics: { names: Set<string>; at: number } | undefined;
  #refreshing: Promise<void> | undefined;
  #failingSince: number | undefined;
  #lastFailure = '';
  #started = false;
  #stopped: Promise<void> | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#options = validateOutboxRelayOptions(options);
    this.#names = outboxTableNames(this.#options.table);
    this.#logger = componentLogger(this.#options.logger ?? createLogger(), 'outbox-relay', { table: this.#names.table });
    this.metrics = new OutboxMetrics(this.#options.metricsRegistry);
  }

  /** Creates the tables if missing, starts listening and the claim loops. Resolves once they run. */
  async start(): Promise<void> {
    if (this.#started) throw new OrderlyError('CONFIGURATION', 'the outbox relay was started already');
    this.#started = true;
    // The topic list the first claim checks its rows against, asked for while the tables are checked and LISTEN
    // connects (a first claim that finds it missing asks again).
    void this.#refreshTopics().catch(() => undefined);
    const listening = this.#options.listenConnectionString ? this.#listen() : Promise.resolve();
    try {
      await this.#createTables();
    } catch (error) {
      await listening;
      await this.stop();
      throw error;
    }
    // The claims start without waiting for LISTEN: once it listens, it wakes them for a row committed before.
    for (let slot = 0; slot < this.#options.concurrency; slot++) this.#loops.push(this.#claimLoop(slot));
    this.#loops.push(this.#statusLoop());
    if (this.#options.retentionMs > 0) this.#loops.push(this.#sweepLoop());
    await listening;
    this.#logger.info({ concurrency: this.#options.concurrency, listening: this.#listening }, 'outbox relay started');
  }

  /** Creates the tables; a database that refuses connections for a while (restarting, at max_connections) is retried for `claimTimeoutMs`. */
  async #createTables(): Promise<void> {
    const until = Date.now() + this.#options.claimTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await withDeadline(this.#options.pool.connect(), this.#options.claimTimeoutMs, 'connecting to the outbox database');
        try {
          await createOutboxTables(client, this.#names.table);
          return;
        } finally {
          client.release();
        }
      } catch (error) {
        const message = (error as Error).message;
        if (Date.now() >= until || (error instanceof OrderlyError && error.code === 'CONFIGURATION')) {
          throw new OrderlyError('STACK_UNAVAILABLE', `the outbox relay could not set up ${this.#names.table} (${attempt} attempts): ${message}`, { cause: error });
        }
        this.#logger.warn({ attempt, err: { message } }, 'outbox database not ready: retrying');
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt - 1, 5)), this.#stopping.signal);
      }
    }
  }

  /**
   * Stops claiming, waits for the claims in flight for at most `shutdownTimeoutMs`, then ends their connections
   * (their transactions roll back: the rows are republished by the next relay, with the same ids).
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake.resolve();
    const all = Promise.allSettled(this.#loops);
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), this.#options.shutdownTimeoutMs).unref())]);
    if (timedOut) {
      this.#logger.warn({ claims: this.#active.size, timeoutMs: this.#options.shutdownTimeoutMs }, 'outbox relay stop deadline passed: ending the claims in flight (their rows are republished)');
      for (const client of this.#active) await (client as unknown as pg.Client).end().catch(() => undefined);
    }
    await this.#listener?.end().catch(() => undefined);
    this.#listener = undefined;
    await this.#admin?.then((admin) => admin.disconnect()).catch(() => undefined);
    this.#logger.info('outbox relay stopped');
  }

  /** For `/readyz`: not ready while claims have failed for over 30 s on end. */
  readiness(): { ready: boolean; reasons: string[] } {
    if (this.#failingSince === undefined || Date.now() - this.#failingSince < 30_000) return { ready: true, reasons: [] };
    return { ready: false, reasons: [`outbox relay ${this.#names.table}: claims failing for ${Math.round((Date.now() - this.#failingSince) / 1000)} s (${this.#lastFailure})`] };
  }

  /** The outbox's depth, oldest pending age and failed rows, measured now. */
  status(): Promise<OutboxStatus> {
    return readOutboxStatus(this.#options.pool, this.#names.table);
  }

  async #claimLoop(slot: number): Promise<void> {
    const signal = this.#stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      const wake = this.#wake.promise;
      let result: ClaimResult;
      try {
        result = await this.#claim();
        if (failures > 0) this.#logger.info({ slot, failures }, 'outbox claims succeed again');
        failures = 0;
        this.#failingSince = undefined;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        this.#failingSince ??= Date.now();
        this.#lastFailure = (error as Error).message;
        this.metrics.claimFailures.inc({ table: this.#names.table });
        const backoff = Math.min(maxBackoffMs, this.#options.retryBackoffMs * 2 ** Math.min(failures - 1, 10));
        // Loud on the first failure and every tenth after; the metric and /readyz say it in between.
        if (failures === 1 || failures % 10 === 0) this.#logger.error({ slot, failures, backoffMs: backoff, err: { type: (error as OrderlyError).code, message: (error as Error).message } }, 'outbox claim failed: its rows stay pending and are retried');
        await sleep(backoff, signal);
        continue;
      }
      // A claim that published or marked rows may have left more in shards it did not hold: claim again at once.
      // One that did neither (no shard with rows it may publish) waits, so blocked rows are never spun on.
      if (result.published + result.failed > 0) continue;
      // Idle: until a NOTIFY, the poll interval, or stop.
      await Promise.race([wake, sleep(this.#options.pollIntervalMs, signal)]);
    }
  }

  async #claim(): Promise<ClaimResult> {
    const { pool, claimTimeoutMs } = this.#options;
    const client = await withDeadline(pool.connect(), claimTimeoutMs, 'connecting to the outbox database');
    this.#active.add(client);
    let broken: Error | undefined;
    try {
      return await withDeadline(this.#claimIn(client), claimTimeoutMs, 'an outbox claim');
    } catch (error) {
      broken = error as Error;
      await withDeadline(client.query('rollback'), 5_000, 'rollback').catch(() => undefined);
      throw error;
    } finally {
      this.#active.delete(client);
      // A claim that failed may leave its connection mid-transaction: drop it rather than pool it.
      try {
        client.release(broken);
      } catch {
        // ended by stop() already
      }
    }
  }

  async #claimIn(client: PoolClient): Promise<ClaimResult> {
    const { table, shards } = this.#names;
    const { shardsPerClaim, batchSize, claimTimeoutMs } = this.#options;
    const startedAt = Date.now();
    // One round trip (the simple protocol: every value inlined is a validated integer). The session limits are
    // the server's own: a frozen relay's transaction ends and its shards are free again. Then the shards nobody
    // holds that have pending rows: per shard, the pending index read in id order up to the shard's first row (a
    // semi-join would read the whole index, every pending row, on every claim).
    const claimed = (await client.query(
      `begin; set local statement_timeout = ${claimTimeoutMs}; set local idle_in_transaction_session_timeout = ${claimTimeoutMs};
       select s.shard from ${shards} s
       cross join lateral (select 1 from ${table} p where p.state = ${outboxState.pending} and p.shard = s.shard order by p.id limit 1) pending
       order by random() limit ${shardsPerClaim} for update of s skip locked`,
    )) as unknown as QueryResult<{ shard: number }>[];
    const shardList = (claimed.at(-1)?.rows ?? []).map((row) => row.shard);
    if (shardList.length === 0) {
      await client.query('commit');
      return { read: 0, published: 0, failed: 0 };
    }
    if (!shardList.every((shard) => Number.isInteger(shard))) throw new OrderlyError('CONFIGURATION', `outbox ${table}: a shard is not an integer`);
    // Their pending rows in id order, except those behind a failed row of their topic and key, through a cursor:
    // a statement of its own, so its snapshot is taken after the shard locks (it sees the deletes of the claim
    // that held a shard before), and one snapshot for every batch of the claim. In that snapshot a key's visible
    // rows are a prefix of its rows (the writer's key lock), so the batches read ahead never skip an earlier row
    // of a key that committed meanwhile: it waits for the next claim, with the key's later rows.
    const first = (await client.query(
      `declare ${claimCursor} no scroll cursor for
         select ${rowColumns}
         from ${table} o
         where o.state = ${outboxState.pending} and o.shard = any('{${shardList.join(',')}}'::smallint[])
           and not exists (select 1 from ${table} f where f.state = ${outboxState.failed} and f.topic = o.topic and f.key = o.key and f.id < o.id)
         order by o.id;
       fetch ${batchSize} from ${claimCursor}`,
    )) as unknown as QueryResult<OutboxRow>[];
    let read = 0;
    const failed: FailedRow[] = [];
    const published: SentRow[] = [];
    /** Topic and key of each row marked failed by this claim: their later rows stay pending, behind it. */
    const blocked = new Set<string>();
    let next: Promise<OutboxRow[]> | undefined = Promise.resolve(first.at(-1)?.rows ?? []);
    let error: unknown;
    while (next) {
      const batch: OutboxRow[] = await next;
      next = undefined;
      if (batch.length === 0) break;
      read += batch.length;
      // The next batch is read while this one is in flight; it is published only once this one is acknowledged.
      if (batch.length === batchSize && read < batchSize * batchesPerClaim && Date.now() - startedAt < claimTimeoutMs / 4) {
        next = client.query<OutboxRow>(`fetch ${batchSize} from ${claimCursor}`).then((result) => result.rows);
        next.catch(() => undefined); // awaited below, or abandoned with the claim's transaction
      }
      const rows = blocked.size === 0 ? batch : batch.filter((row) => !blocked.has(keyOf(row)));
      const failedBefore = failed.length;
      const missing = await this.#missingTopics(topicsOf(rows));
      for (const row of rows) if (missing.has(row.topic)) failed.push({ id: row.id, topic: row.topic, key: keyOf(row), reason: 'topic-missing', message: `topic ${row.topic} does not exist` });
      const failedIds = new Set(failed.slice(failedBefore).map((row) => row.id));
      const outcome = await this.#publish(failedIds.size === 0 ? rows : rows.filter((row) => !failedIds.has(row.id)), failed);
      published.push(...outcome.published);
      for (const row of failed.slice(failedBefore)) blocked.add(row.key);
      if (outcome.error !== undefined) {
        error = outcome.error;
        break;
      }
    }
    // A read still in flight ends before the marks (one connection, statements in order); the commit closes the cursor.
    await next?.catch(() => undefined);
    await this.#markFailed(client, failed);
    await this.#markSentAndCommit(client, published);
    this.#reportPublished(published);
    if (error !== undefined) throw error;
    return { read, published: published.length, failed: failed.length };
  }

  /**
   * Publishes rows in order. A refused topic or a permanent rejection adds failed rows (and the rest is tried
   * row by row, skipping the later rows of a failed key); an outage ends the publish with `error`: the rows
   * not published stay pending.
   */
  async #publish(rows: OutboxRow[], failed: FailedRow[]): Promise<{ published: SentRow[]; error?: unknown }> {
    const published: SentRow[] = [];
    if (rows.length === 0) return { published };
    try {
      const events = await this.#options.producer.publishEncodedBatch(rows.map(toEncodedEvent));
      events.forEach((event, index) => published.push(sentRow(rows[index]!, event)));
      return { published };
    } catch (error) {
      const written = error instanceof PublishBatchError ? error.written : [];
      written.forEach((event, index) => published.push(sentRow(rows[index]!, event)));
      const rest = rows.slice(written.length);
      const cause = error instanceof PublishBatchError ? error.cause : error;
      if (!isUnknownTopicError(cause) && !isPermanentRejection(cause)) return { published, error: cause };
      this.#logger.warn({ rows: rest.length, err: { type: (cause as OrderlyError).code, message: (cause as Error).message } }, 'outbox batch refused: publishing its rows one by one to find the bad ones');
      return { published: [...published, ...(await this.#publishOneByOne(rest, failed))] };
    }
  }

  async #publishOneByOne(rows: OutboxRow[], failed: FailedRow[]): Promise<SentRow[]> {
    const published: SentRow[] = [];
    const blocked = new Set<string>();
    this.#topics = undefined; // a topic may have been deleted: ask again
    for (const row of rows) {
      const key = keyOf(row);
      if (blocked.has(key)) continue; // stays pending, behind its failed row
      try {
        const [event] = await this.#options.producer.publishEncodedBatch([toEncodedEvent(row)]);
        published.push(sentRow(row, event!));
      } catch (error) {
        const cause = error instanceof PublishBatchError ? error.cause : error;
        if (isUnknownTopicError(cause) || (await this.#missingTopics([row.topic])).has(row.topic)) {
          failed.push({ id: row.id, topic: row.topic, key, reason: 'topic-missing', message: `topic ${row.topic} does not exist` });
        } else if (isPermanentRejection(cause)) {
          failed.push({ id: row.id, topic: row.topic, key, reason: 'rejected', message: `the broker refused the record: ${(cause as Error).message}`.slice(0, 500) });
        } else {
          break; // an outage: what is left stays pending
        }
        blocked.add(key);
      }
    }
    return published;
  }

  #connectAdmin(): Promise<Admin> {
    const admin = this.#options.kafka.admin();
    const connected = withDeadline(admin.connect(), 30_000, 'connecting the Kafka admin client').then(
      () => admin,
      async (error: unknown) => {
        this.#admin = undefined;
        await admin.disconnect().catch(() => undefined);
        throw error;
      },
    );
    return connected;
  }

  /** The topics among `topics` the cluster does not have (cached for 30 s; asked again on a miss, at most every 2 s). */
  async #missingTopics(topics: Iterable<string>): Promise<Set<string>> {
    const wanted = new Set(topics);
    const now = Date.now();
    const stale = !this.#topics || now - this.#topics.at > topicCacheMs;
    const missesKnown = this.#topics && [...wanted].some((topic) => !this.#topics!.names.has(topic));
    if (stale || (missesKnown && now - this.#topics!.at > topicRefreshMinMs)) await this.#refreshTopics();
    return new Set([...wanted].filter((topic) => !this.#topics!.names.has(topic)));
  }

  /** Lists the cluster's topics; claims asking at once share one admin client and one request. */
  #refreshTopics(): Promise<void> {
    this.#refreshing ??= (async () => {
      this.#admin ??= this.#connectAdmin();
      const admin = await this.#admin;
      const names = await withDeadline(admin.listTopics(), 30_000, 'listing topics');
      this.#topics = { names: new Set(names), at: Date.now() };
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #markSentAndCommit(client: PoolClient, published: SentRow[]): Promise<void> {
    if (published.length === 0) {
      await client.query('commit');
      return;
    }
    const ids = published.map(({ id }) => id);
    if (this.#options.retentionMs === 0) {
      // The delete and the commit in one round trip; ids are the table's own bigints (checked, then inlined).
      const list = ids.join(',');
      if (!/^\d{1,19}(?:,\d{1,19})*$/.test(list)) throw new OrderlyError('CONFIGURATION', `outbox ${this.#names.table}: a row id is not a bigint`);
      await client.query(`delete from ${this.#names.table} where id = any('{${list}}'::bigint[]); commit`);
      return;
    }
    await client.query(
      `update ${this.#names.table} o set state = ${outboxState.sent}, sent_at = clock_timestamp(), published_partition = p.partition, published_offset = p.offset
       from unnest($1::bigint[], $2::integer[], $3::bigint[]) as p(id, partition, "offset") where o.id = p.id`,
      [ids, published.map(({ event }) => event.partition), published.map(({ event }) => event.offset)],
    );
    await client.query('commit');
  }

  async #markFailed(client: PoolClient, failed: FailedRow[]): Promise<void> {
    if (failed.length === 0) return;
    await client.query(
      `update ${this.#names.table} o set state = ${outboxState.failed}, failed_at = clock_timestamp(), failed_reason = f.reason
       from unnest($1::bigint[], $2::text[]) as f(id, reason) where o.id = f.id`,
      [failed.map((row) => row.id), failed.map((row) => `${row.reason}: ${row.message}`)],
    );
    const byReason = new Map<string, { rows: number; topics: Set<string> }>();
    for (const row of failed) {
      const entry = byReason.get(row.reason) ?? { rows: 0, topics: new Set<string>() };
      entry.rows++;
      entry.topics.add(row.topic);
      byReason.set(row.reason, entry);
    }
    for (const [reason, { rows: count, topics }] of byReason) {
      this.metrics.markedFailed.inc({ table: this.#names.table, reason }, count);
      this.#logger.error({ reason, rows: count, topics: [...topics].slice(0, 10) }, 'outbox rows marked failed: they block the later rows of their keys until requeued (orderly outbox status)');
    }
  }

  #reportPublished(published: SentRow[]): void {
    if (published.length === 0) return;
    const labels = { table: this.#names.table };
    this.metrics.published.inc(labels, published.length);
    const now = Date.now();
    for (const { writtenMs } of published) this.metrics.writeToPublish.observe(labels, Math.max(0, now - writtenMs) / 1000);
    const { onPublished } = this.#options;
    if (!onPublished) return;
    const events: RelayedEvent[] = published.map(({ writtenMs, event }) => ({ eventId: event.eventId, topic: event.topic, partition: event.partition, offset: event.offset, writtenAt: new Date(writtenMs) }));
    try {
      onPublished(events);
    } catch (error) {
      this.#logger.warn({ err: error }, 'onPublished threw (ignored)');
    }
  }

  async #statusLoop(): Promise<void> {
    const signal = this.#stopping.signal;
    const table = this.#names.table;
    while (!signal.aborted) {
      try {
        const status = await withDeadline(this.status(), 30_000, 'reading the outbox status');
        this.metrics.depth.set({ table }, status.pending);
        this.metrics.oldestUnsentAge.set({ table }, status.oldestPendingAgeSeconds);
        this.metrics.failedRows.set({ table }, status.failed);
      } catch (error) {
        this.#logger.warn({ err: { message: (error as Error).message } }, 'outbox status not measured');
      }
      await sleep(this.#options.statusIntervalMs, signal);
    }
  }

  /** Deletes sent rows older than the retention, a bounded batch at a time. */
  async #sweepLoop(): Promise<void> {
    const signal = this.#stopping.signal;
    const { retentionMs } = this.#options;
    const every = Math.min(60_000, Math.max(1_000, Math.floor(retentionMs / 10)));
    while (!signal.aborted) {
      try {
        const result = await withDeadline(
          this.#options.pool.query(
            `delete from ${this.#names.table} where id in (select id from ${this.#names.table} where state = ${outboxState.sent} and sent_at < clock_timestamp() - $1 * interval '1 millisecond' limit ${sweepBatch})`,
            [retentionMs],
          ),
          30_000,
          'the outbox retention sweep',
        );
        if ((result.rowCount ?? 0) >= sweepBatch) continue;
      } catch (error) {
        this.#logger.warn({ err: { message: (error as Error).message } }, 'outbox retention sweep failed: retried');
      }
      await sleep(every, signal);
    }
  }

  /** Wakes the idle claim loops (a NOTIFY, LISTEN connected again). */
  #wakeClaims(): void {
    const wake = this.#wake;
    this.#wake = wakeSignal();
    wake.resolve();
  }

  async #listen(): Promise<void> {
    const signal = this.#stopping.signal;
    const connect = async (): Promise<void> => {
      const listener = new pg.Client({ connectionString: this.#options.listenConnectionString, connectionTimeoutMillis: 10_000, application_name: 'orderly-outbox-listen' });
      listener.on('notification', () => this.#wakeClaims());
      const lost = (reason: string) => {
        if (!this.#listening || this.#listener !== listener || signal.aborted) return;
        this.#listening = false;
        this.#logger.warn({ reason }, 'outbox LISTEN connection lost: polling until it is back');
        void listener.end().catch(() => undefined);
        void reconnect();
      };
      listener.on('error', (error) => lost(error.message));
      listener.on('end', () => lost('connection ended'));
      await listener.connect();
      await listener.query(`listen ${this.#names.channel}`);
      this.#listener = listener;
      this.#listening = true;
      // A row committed while nobody listened sent its NOTIFY to no one: claim once more.
      this.#wakeClaims();
    };
    const reconnect = async (): Promise<void> => {
      for (let attempt = 1; !signal.aborted; attempt++) {
        await sleep(Math.min(maxBackoffMs, 500 * 2 ** Math.min(attempt - 1, 8)), signal);
        if (signal.aborted) return;
        try {
          await connect();
          this.#logger.info({ attempt }, 'outbox LISTEN connection back');
          return;
        } catch (error) {
          if (attempt === 1 || attempt % 10 === 0) this.#logger.warn({ attempt, err: { message: (error as Error).message } }, 'outbox LISTEN reconnect failed: polling meanwhile');
        }
      }
    };
    try {
      await connect();
    } catch (error) {
      this.#logger.warn({ err: { message: (error as Error).message } }, 'outbox LISTEN failed: polling until it connects');
      void reconnect();
    }
  }
}

function toEncodedEvent(row: OutboxRow): EncodedOutgoingEvent {
  const event: EncodedOutgoingEvent = {
    topic: row.topic,
    key: row.key,
    value: Buffer.from(row.payload, 'base64'),
    type: row.event_type,
    eventId: row.event_id,
    occurredAt: new Date(row.occurred_ms),
  };
  if (row.traceparent === null && row.headers === null) return event;
  // The writer's `tracestate` is kept in the headers column (outbox/outbox-writer.ts): sent as trace context.
  const { tracestate, ...headers } = row.headers ?? {};
  if (row.traceparent) {
    event.traceparent = row.traceparent;
    if (tracestate) event.tracestate = tracestate;
  }
  if (Object.keys(headers).length > 0) event.headers = headers;
  return event;
}
