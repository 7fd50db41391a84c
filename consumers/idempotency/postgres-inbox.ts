/**
 * The transactional inbox on PostgreSQL (pg): a handler wrapped by {@link PostgresInbox.handler} gets a
 * transaction in which the inbox row (group, event id, payload hash) is inserted first; the handler's writes
 * and that row commit together or not at all. A second delivery finds the row and changes nothing: the
 * effects are exactly-once. Two members handling the same event at once serialise on the row's key.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import { IdConflictError } from '../../core/errors.ts';
import { backoffDelayMs } from '../retries/backoff.ts';
import type { EventHandler, HandledEvent, HandlerContext } from '../options.ts';

export interface PostgresInboxOptions {
  pool: Pool;
  groupId: string;
  /** @defaultValue `'orderly_inbox'` */
  table?: string;
}

export type TransactionalHandler<T> = (event: HandledEvent<T>, transaction: PoolClient, context: HandlerContext) => Promise<void>;

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
      const client = await this.connect(context);
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
   * A connection, waiting (with backoff) while PostgreSQL refuses new ones for a moment: at its connection
   * limit (SQLSTATE 53300, shared servers reach it), starting up or shutting down (57P03), or unreachable.
   * Nothing is applied yet, so this is no failure of the event: without the wait, the in-place attempts would
   * all fail within milliseconds and the event go to the DLT. The wait ends when the attempt is aborted
   * (handler timeout, consumer stopping); the attempt then fails as any other would.
   */
  private async connect(context: HandlerContext): Promise<PoolClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.connect();
      } catch (error) {
        // The signal is read only here: a context makes its AbortController on the first read.
        const { signal } = context;
        if (!isConnectionRefusal(error) || signal.aborted) throw error;
        await sleep(backoffDelayMs(attempt, { baseMs: 50, maxMs: 1_000 }), undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw error;
      }
    }
  }

  /** Whether the inbox holds the event (it was applied). */
  async contains(eventId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`select 1 from ${this.table} where group_id = $1 and event_id = $2`, [this.groupId, eventId]);
    return (rowCount ?? 0) > 0;
  }
}

const refusalCodes = new Set(['53300', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);

/** PostgreSQL (or the network) refusing a new connection for now, as opposed to a broken request. */
function isConnectionRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && refusalCodes.has(code);
}
