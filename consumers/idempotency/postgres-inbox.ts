/**
 * The transactional inbox on PostgreSQL (pg): a handler wrapped by {@link PostgresInbox.handler} gets a
 * transaction in which the inbox row (group, event id, payload hash) is inserted first; the handler's writes
 * and that row commit together or not at all. A second delivery finds the row and changes nothing: the
 * effects are exactly-once. Two members handling the same event at once serialise on the row's key.
 * {@link PostgresInbox.batchHandler} is the same with group commit: events ready together share a transaction.
 */
import type { Pool } from 'pg';
import { IdConflictError } from '../../core/errors.ts';
import type { EventHandler } from '../options.ts';
import { InboxBatches, type BatchApplier, type InboxBatchOptions, type TransactionalHandler } from './postgres-inbox-batches.ts';
import { connectWaitingOutRefusals } from './postgres-connection.ts';

export type { BatchApplier, InboxBatchOptions, TransactionalHandler } from './postgres-inbox-batches.ts';

export interface PostgresInboxOptions {
  pool: Pool;
  groupId: string;
  /** @defaultValue `'orderly_inbox'` */
  table?: string;
}

export class PostgresInbox {
  private readonly pool: Pool;
  private readonly groupId: string;
  private readonly table: string;

  constructor({ pool, groupId, table = 'orderly_inbox' }: PostgresInboxOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`inbox table name "${table}" must be a plain lower-case SQL identifier`);
    this.pool = pool;
    this.groupId = groupId;
    this.table = table;
  }

  async createTable(): Promise<void> {
    await this.pool.query(
      `create table if not exists ${this.table} (
         group_id text not null,
         event_id text not null,
         payload_hash text not null,
         handled_at timestamptz not null default now(),
         primary key (group_id, event_id))`,
    );
  }

  /** Wraps a handler: it runs inside the transaction that records the event in the inbox. */
  handler<T>(handle: TransactionalHandler<T>): EventHandler<T> {
    return async (event, context) => {
      const client = await connectWaitingOutRefusals(this.pool, () => context.signal);
      try {
        await client.query('begin');
        const inserted = await client.query(
          `insert into ${this.table} (group_id, event_id, payload_hash) values ($1, $2, $3) on conflict do nothing`,
          [this.groupId, event.eventId, event.payloadHash],
        );
        if (inserted.rowCount === 0) {
          const { rows } = await client.query<{ payload_hash: string }>(
            `select payload_hash from ${this.table} where group_id = $1 and event_id = $2`,
            [this.groupId, event.eventId],
          );
          await client.query('rollback');
          if (rows[0]?.payload_hash !== event.payloadHash) {
            throw new IdConflictError(`event id ${event.eventId} was applied before with another payload`);
          }
          return; // applied before: nothing to do
        }
        await handle(event, client, context);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    };
  }

  /**
   * The batch mode (group commit): the handler calls that arrive together are applied in one transaction on
   * one pooled connection, each event in a savepoint of its own, committed once; see
   * {@link InboxBatches} (postgres-inbox-batches.ts) for every case. Per-key order is unchanged: the consumer
   * never runs two events of one key (one lane) at once, and a call resolves only once its batch has
   * committed, so the next event of a key starts after the previous one is committed. With `ordering: 'none'`
   * there is no such order to keep. The handler gets the batch's transaction: it must not commit, roll back
   * or release it, and should run its statements one after another (the batch runs handlers in turn).
   * Instead of a handler, a {@link BatchApplier} (`check` per event, `apply` for all at once) makes one
   * statement per batch. A pool made with `pipeline: true` (pg ≥ 8.2x) saves a round trip per event.
   */
  batchHandler<T>(handle: TransactionalHandler<T> | BatchApplier<T>, options: InboxBatchOptions = {}): EventHandler<T> {
    const batches = new InboxBatches<T>(this.pool, this.table, this.groupId, handle, options);
    return (event, context) => batches.submit(event, context);
  }

  /** Whether the inbox holds the event (it was applied). */
  async contains(eventId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`select 1 from ${this.table} where group_id = $1 and event_id = $2`, [this.groupId, eventId]);
    return (rowCount ?? 0) > 0;
  }
}
