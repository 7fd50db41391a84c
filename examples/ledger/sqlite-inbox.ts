/**
 * The transactional inbox on an embedded SQLite file (node:sqlite), with {@link PostgresInbox}'s semantics: a
 * handler wrapped by {@link SqliteInbox.handler} runs in a transaction that first inserts the inbox row (group,
 * event id, payload hash); the handler's writes and that row commit together or not at all. A second delivery
 * finds the row and changes nothing; the same id with another payload is an {@link IdConflictError}.
 *
 * node:sqlite is synchronous, so the wrapped handler is too: the whole transaction runs without yielding to
 * the event loop, and concurrent handlers of one process never interleave inside one connection. Processes
 * serialise on SQLite's write lock (`BEGIN IMMEDIATE`, waiting up to the connection's busy timeout).
 */
import type { DatabaseSync } from 'node:sqlite';
import { IdConflictError } from '../../core/errors.ts';
import type { EventHandler, HandledEvent, HandlerContext } from '../../consumers/options.ts';

export type SqliteTransactionalHandler<T> = (event: HandledEvent<T>, database: DatabaseSync, context: HandlerContext) => void;

export interface SqliteInboxOptions {
  database: DatabaseSync;
  groupId: string;
}

export class SqliteInbox {
  readonly #database: DatabaseSync;
  readonly #groupId: string;

  constructor({ database, groupId }: SqliteInboxOptions) {
    this.#database = database;
    this.#groupId = groupId;
  }

  createTable(): void {
    this.#database.exec(`create table if not exists orderly_inbox (
      group_id text not null, event_id text not null, payload_hash text not null,
      handled_at integer not null, primary key (group_id, event_id))`);
  }

  /** Wraps a synchronous handler: it runs inside the transaction that records the event in the inbox. */
  handler<T>(handle: SqliteTransactionalHandler<T>): EventHandler<T> {
    const database = this.#database;
    return async (event, context) => {
      database.exec('begin immediate');
      try {
        const inserted = database
          .prepare('insert into orderly_inbox (group_id, event_id, payload_hash, handled_at) values (?, ?, ?, ?) on conflict do nothing')
          .run(this.#groupId, event.eventId, event.payloadHash, Date.now());
        if (inserted.changes === 0) {
          const row = database.prepare('select payload_hash from orderly_inbox where group_id = ? and event_id = ?').get(this.#groupId, event.eventId) as
            | { payload_hash: string }
            | undefined;
          database.exec('rollback');
          if (row?.payload_hash !== event.payloadHash) throw new IdConflictError(`event id ${event.eventId} was applied before with another payload`);
          return; // applied before: nothing to do
        }
        handle(event, database, context);
        database.exec('commit');
      } catch (error) {
        if (database.isTransaction) database.exec('rollback');
        throw error;
      }
    };
  }

  /** Whether the inbox holds the event (it was applied). */
  contains(eventId: string): boolean {
    return this.#database.prepare('select 1 from orderly_inbox where group_id = ? and event_id = ?').get(this.#groupId, eventId) !== undefined;
  }
}
