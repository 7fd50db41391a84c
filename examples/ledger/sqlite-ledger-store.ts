/**
 * The ledger in an embedded SQLite file (node:sqlite), for runs without PostgreSQL. WAL mode lets the
 * producer, several worker processes and the verifier use the file at once; writers wait on each other up
 * to the busy timeout. Events are applied through {@link SqliteInbox}.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { EventHandler } from '../../consumers/options.ts';
import { balanceChange, failIfMarked, type AccountPlan, type PublishedLedgerEvent } from './ledger-events.ts';
import type { AccountsLedgerValue } from './ledger-event-types.ts';
import type { LedgerSnapshot, LedgerStore } from './ledger-store.ts';
import { SqliteInbox } from './sqlite-inbox.ts';

/** How long a writer waits for another process's write lock. */
const busyTimeoutMs = 15_000;

type Row = Record<string, string | number | bigint | null>;

export class SqliteLedgerStore implements LedgerStore {
  readonly description: string;
  readonly #database: DatabaseSync;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.#database = new DatabaseSync(file);
    this.#database.exec(`pragma busy_timeout = ${busyTimeoutMs}; pragma journal_mode = wal; pragma synchronous = normal;`);
    this.description = `SQLite file ${file}`;
  }

  async setup(): Promise<void> {
    this.#database.exec(`
      create table if not exists demo_published (
        event_id text primary key, account_id text not null, sequence integer not null, type text not null,
        amount_minor integer not null, fault text not null, failures integer not null,
        occurred_at integer not null, run_id text not null, due_at integer);
      create table if not exists accounts (account_id text primary key, balance integer not null);
      create table if not exists ledger_applied (
        applied_id integer primary key autoincrement, event_id text not null unique, account_id text not null,
        sequence integer not null, amount_minor integer not null, applied_at integer not null);
      create table if not exists orderly_inbox (
        group_id text not null, event_id text not null, payload_hash text not null,
        handled_at integer not null, primary key (group_id, event_id));`);
    // Files made before delayed events: the due time is a column of its own (SQLite has no "if not exists" here).
    const columns = this.#database.prepare('pragma table_info(demo_published)').all() as Row[];
    if (!columns.some((column) => column.name === 'due_at')) this.#database.exec('alter table demo_published add column due_at integer');
  }

  async accountPlans(): Promise<Map<string, AccountPlan>> {
    const rows = this.#database.prepare('select account_id, max(sequence) as last_sequence, sum(amount_minor) as balance from demo_published group by account_id').all() as Row[];
    return new Map(rows.map((row) => [String(row.account_id), { lastSequence: Number(row.last_sequence), balanceMinor: Number(row.balance) }]));
  }

  async recordPublished(events: readonly PublishedLedgerEvent[]): Promise<void> {
    const insert = this.#database.prepare(
      'insert into demo_published (event_id, account_id, sequence, type, amount_minor, fault, failures, occurred_at, run_id, due_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#database.exec('begin immediate');
    try {
      for (const event of events) {
        insert.run(event.eventId, event.accountId, event.sequence, event.type, event.amountMinor, event.fault, event.failures, event.occurredAt, event.runId, event.dueAt ?? null);
      }
      this.#database.exec('commit');
    } catch (error) {
      if (this.#database.isTransaction) this.#database.exec('rollback');
      throw error;
    }
  }

  applier(groupId: string): EventHandler<AccountsLedgerValue> {
    const inbox = new SqliteInbox({ database: this.#database, groupId });
    inbox.createTable();
    const insertApplied = this.#database.prepare('insert into ledger_applied (event_id, account_id, sequence, amount_minor, applied_at) values (?, ?, ?, ?, ?)');
    const updateBalance = this.#database.prepare(
      'insert into accounts (account_id, balance) values (?, ?) on conflict (account_id) do update set balance = balance + excluded.balance',
    );
    return inbox.handler<AccountsLedgerValue>((event, _database, { attempt }) => {
      failIfMarked(event.headers, attempt);
      const change = balanceChange(event);
      insertApplied.run(event.eventId, event.value.accountId, event.value.sequence, change, Date.now());
      updateBalance.run(event.value.accountId, change);
    });
  }

  async counts(): Promise<{ published: number; applied: number }> {
    const row = this.#database.prepare('select (select count(*) from demo_published) as published, (select count(*) from ledger_applied) as applied').get() as Row;
    return { published: Number(row.published), applied: Number(row.applied) };
  }

  async snapshot(): Promise<LedgerSnapshot> {
    const published = this.#database.prepare('select event_id, account_id, sequence, type, amount_minor, fault, occurred_at, run_id, due_at from demo_published').all() as Row[];
    const applied = this.#database.prepare('select applied_id, event_id, account_id, sequence, amount_minor, applied_at from ledger_applied').all() as Row[];
    const accounts = this.#database.prepare('select account_id, balance from accounts').all() as Row[];
    return {
      published: published.map((row) => ({
        eventId: String(row.event_id),
        accountId: String(row.account_id),
        sequence: Number(row.sequence),
        type: String(row.type) as never,
        amountMinor: Number(row.amount_minor),
        fault: String(row.fault) as never,
        occurredAt: Number(row.occurred_at),
        runId: String(row.run_id),
        ...(row.due_at === null || row.due_at === undefined ? {} : { dueAt: Number(row.due_at) }),
      })),
      applied: applied.map((row) => ({
        appliedId: Number(row.applied_id),
        eventId: String(row.event_id),
        accountId: String(row.account_id),
        sequence: Number(row.sequence),
        amountMinor: Number(row.amount_minor),
        appliedAt: Number(row.applied_at),
      })),
      accounts: accounts.map((row) => ({ accountId: String(row.account_id), balance: Number(row.balance) })),
    };
  }

  async close(): Promise<void> {
    this.#database.close();
  }
}
