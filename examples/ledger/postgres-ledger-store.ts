/**
 * The ledger on PostgreSQL: its tables live in their own schema (`ledgerNamespaceOf(topic, group)`), reached
 * through `search_path`, so several demo runs share one database. Events are applied through
 * {@link PostgresInbox}: the inbox row, the `ledger_applied` row and the balance change commit together; in
 * batch mode (the default) the events ready together share one transaction, each in its own savepoint.
 */
import pg from 'pg';
import { PostgresInbox, type BatchApplier } from '../../consumers/idempotency/postgres-inbox.ts';
import type { EventHandler, HandledEvent } from '../../consumers/options.ts';
import type { DemoInboxMode } from './demo-options.ts';
import { balanceChange, failIfMarked, type AccountPlan, type PublishedLedgerEvent } from './ledger-events.ts';
import type { AccountsLedgerValue } from './ledger-event-types.ts';
import type { LedgerSnapshot, LedgerStore } from './ledger-store.ts';

/** The demo's batches: up to 64 events per transaction, up to 4 transactions in flight per worker. */
const demoInboxBatch = { maxBatchEvents: 64, maxBatchesInFlight: 4 };

/** Serialises the DDL of concurrent processes (an arbitrary constant for pg_advisory_xact_lock). */
const setupLock = 74_201_903;

export class PostgresLedgerStore implements LedgerStore {
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #poolConfig: pg.PoolConfig;
  /** The batch applier's pool: pipelined, so a savepoint goes out with the statement after it. */
  #pipelinedPool: pg.Pool | undefined;

  /** @param poolSize connections at most: each handler in flight (or each batch in flight) holds one. */
  constructor(connectionString: string, schema: string, poolSize = 10) {
    this.#schema = schema;
    this.#poolConfig = { connectionString, max: poolSize, options: `-c search_path=${schema}` };
    this.#pool = new pg.Pool(this.#poolConfig);
    this.#pool.on('error', () => undefined); // an idle client lost: the pool replaces it
    this.description = `PostgreSQL schema ${schema}`;
  }

  async setup(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock($1)', [setupLock]);
      await client.query(`create schema if not exists ${this.#schema}`);
      await client.query(`create table if not exists ${this.#schema}.demo_published (
        event_id text primary key, account_id text not null, sequence bigint not null, type text not null,
        amount_minor bigint not null, fault text not null, failures integer not null,
        occurred_at timestamptz not null, run_id text not null, due_at timestamptz)`);
      // Tables made before delayed events: the due time is a column of its own.
      await client.query(`alter table ${this.#schema}.demo_published add column if not exists due_at timestamptz`);
      await client.query(`create table if not exists ${this.#schema}.accounts (account_id text primary key, balance bigint not null)`);
      await client.query(`create table if not exists ${this.#schema}.ledger_applied (
        applied_id bigserial primary key, event_id text not null unique, account_id text not null,
        sequence bigint not null, amount_minor bigint not null, applied_at timestamptz not null)`);
      await client.query(`create table if not exists ${this.#schema}.orderly_inbox (
        group_id text not null, event_id text not null, payload_hash text not null,
        handled_at timestamptz not null default now(), primary key (group_id, event_id))`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async accountPlans(): Promise<Map<string, AccountPlan>> {
    const { rows } = await this.#pool.query<{ account_id: string; last_sequence: string; balance: string }>(
      'select account_id, max(sequence) as last_sequence, sum(amount_minor) as balance from demo_published group by account_id',
    );
    return new Map(rows.map((row) => [row.account_id, { lastSequence: Number(row.last_sequence), balanceMinor: Number(row.balance) }]));
  }

  async recordPublished(events: readonly PublishedLedgerEvent[]): Promise<void> {
    await insertPublishedRows(this.#pool, events);
  }

  applier(groupId: string, mode: DemoInboxMode = 'batch'): EventHandler<AccountsLedgerValue> {
    if (mode === 'batch' && !this.#pipelinedPool) {
      this.#pipelinedPool = new pg.Pool({ ...this.#poolConfig, max: demoInboxBatch.maxBatchesInFlight, pipeline: true });
      this.#pipelinedPool.on('error', () => undefined);
    }
    const inbox = new PostgresInbox({ pool: mode === 'batch' ? this.#pipelinedPool! : this.#pool, groupId });
    const apply = async (event: HandledEvent<AccountsLedgerValue>, transaction: pg.PoolClient, { attempt }: { attempt: number }) => {
      failIfMarked(event.headers, attempt);
      const change = balanceChange(event);
      await transaction.query(
        `with applied as (
           insert into ledger_applied (event_id, account_id, sequence, amount_minor, applied_at) values ($1, $2, $3, $4, $5)
           returning account_id, amount_minor)
         insert into accounts (account_id, balance) select account_id, amount_minor from applied
         on conflict (account_id) do update set balance = accounts.balance + excluded.balance`,
        [event.eventId, event.value.accountId, event.value.sequence, change, new Date()],
      );
    };
    if (mode === 'per-event') return inbox.handler<AccountsLedgerValue>(apply);
    // Batches: the fault marks are checked per event, then one statement applies every event that passed.
    const applier: BatchApplier<AccountsLedgerValue> = {
      check: (event, { attempt }) => {
        failIfMarked(event.headers, attempt);
        balanceChange(event); // an unknown type fails its own event here, not the batch's statement
      },
      apply: async (events, transaction) => {
        const appliedAt = new Date();
        await transaction.query(
          `with batch as (
             select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) with ordinality as rows(event_id, account_id, sequence, amount_minor, position)),
           applied as (
             insert into ledger_applied (event_id, account_id, sequence, amount_minor, applied_at)
             select event_id, account_id, sequence, amount_minor, $5 from batch order by position
             returning account_id, amount_minor)
           insert into accounts (account_id, balance)
           select account_id, sum(amount_minor) from applied group by account_id order by account_id
           on conflict (account_id) do update set balance = accounts.balance + excluded.balance`,
          [
            events.map((event) => event.eventId),
            events.map((event) => event.value.accountId),
            events.map((event) => event.value.sequence),
            events.map((event) => balanceChange(event)),
            appliedAt,
          ],
        );
      },
    };
    return inbox.batchHandler(applier, demoInboxBatch);
  }

  async counts(): Promise<{ published: number; applied: number }> {
    const { rows } = await this.#pool.query<{ published: string; applied: string }>(
      'select (select count(*) from demo_published) as published, (select count(*) from ledger_applied) as applied',
    );
    return { published: Number(rows[0]!.published), applied: Number(rows[0]!.applied) };
  }

  async snapshot(): Promise<LedgerSnapshot> {
    const [published, applied, accounts] = await Promise.all([
      this.#pool.query<Record<string, string | Date>>('select event_id, account_id, sequence, type, amount_minor, fault, occurred_at, run_id, due_at from demo_published'),
      this.#pool.query<Record<string, string | Date>>('select applied_id, event_id, account_id, sequence, amount_minor, applied_at from ledger_applied'),
      this.#pool.query<{ account_id: string; balance: string }>('select account_id, balance from accounts'),
    ]);
    return {
      published: published.rows.map((row) => ({
        eventId: String(row.event_id),
        accountId: String(row.account_id),
        sequence: Number(row.sequence),
        type: String(row.type) as never,
        amountMinor: Number(row.amount_minor),
        fault: String(row.fault) as never,
        occurredAt: (row.occurred_at as Date).getTime(),
        runId: String(row.run_id),
        ...(row.due_at instanceof Date ? { dueAt: row.due_at.getTime() } : {}),
      })),
      applied: applied.rows.map((row) => ({
        appliedId: Number(row.applied_id),
        eventId: String(row.event_id),
        accountId: String(row.account_id),
        sequence: Number(row.sequence),
        amountMinor: Number(row.amount_minor),
        appliedAt: (row.applied_at as Date).getTime(),
      })),
      accounts: accounts.rows.map((row) => ({ accountId: row.account_id, balance: Number(row.balance) })),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.#pool.end(), this.#pipelinedPool?.end()]);
  }
}

/** Records events in `demo_published` through `db` (the pool, or a client in a transaction: the outbox demo's). */
export async function insertPublishedRows(db: Pick<pg.PoolClient, 'query'>, events: readonly PublishedLedgerEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `insert into demo_published (event_id, account_id, sequence, type, amount_minor, fault, failures, occurred_at, run_id, due_at)
     select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::integer[], $8::timestamptz[], $9::text[], $10::timestamptz[])`,
    [
      events.map((event) => event.eventId),
      events.map((event) => event.accountId),
      events.map((event) => event.sequence),
      events.map((event) => event.type),
      events.map((event) => event.amountMinor),
      events.map((event) => event.fault),
      events.map((event) => event.failures),
      events.map((event) => new Date(event.occurredAt).toISOString()),
      events.map((event) => event.runId),
      events.map((event) => (event.dueAt === undefined ? null : new Date(event.dueAt).toISOString())),
    ],
  );
}
