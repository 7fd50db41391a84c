/**
 * The outbox's tables, created by {@link createOutboxTables} (idempotent, safe from several processes at once):
 * - `<table>`: one row per event, `id` from a sequence taken after the writer holds its key's lock, so per key
 *   `id` order is commit order (docs/outbox.md, "Ordering"). `state` 0 = pending, 1 = sent (kept for the
 *   retention), 2 = failed (with `failed_reason`; it blocks the later rows of its topic and key).
 * - `<table>_shards`: one row per shard (keys map to {@link outboxShardCount} shards by their hash). A relay
 *   claims shards with `FOR UPDATE SKIP LOCKED`, so a key is published by one relay at a time, in `id` order.
 * - a statement trigger that NOTIFYs `<channel>` at commit, so relays wake up without polling.
 */
import { createHash } from 'node:crypto';
import type { ClientBase } from 'pg';
import { ConfigurationError } from '../core/errors.ts';

/** Shards of the key space; a relay claims shards, never single keys. Fixed: changing it needs every relay stopped. */
export const outboxShardCount = 64;

/** Row states in `<table>.state`. */
export const outboxState = { pending: 0, sent: 1, failed: 2 } as const;

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;
/** The bare table name leaves room for the suffixes of its index, trigger and shard table names (63 bytes at most). */
const tableName = /^[a-z_][a-z0-9_]{0,47}$/;

/** A table name as the outbox uses it: `table` or `schema.table`, lower-case letters, digits and `_`. */
export interface OutboxTableNames {
  /** The events table, as given (`orderly_outbox` or `app.orderly_outbox`). */
  table: string;
  shards: string;
  /** The LISTEN/NOTIFY channel. */
  channel: string;
  notifyFunction: string;
  /** The bare table name (for index and trigger names). */
  bare: string;
}

export function outboxTableNames(table: string): OutboxTableNames {
  const parts = table.split('.');
  const bare = parts.at(-1)!;
  if (parts.length > 2 || !tableName.test(bare) || (parts.length === 2 && !schemaName.test(parts[0]!))) {
    throw new ConfigurationError([`outbox.table: ${JSON.stringify(table)} must be a table name (at most 48 characters) or schema.table, of lower-case letters, digits and _`]);
  }
  const prefix = parts.length === 2 ? `${parts[0]}.` : '';
  // A channel name is an identifier: 63 bytes at most (pg_notify refuses longer ones, LISTEN would cut them).
  const plain = `${parts.join('__')}_notify`;
  const channel = plain.length <= 63 ? plain : `outbox_${createHash('sha256').update(table).digest('hex').slice(0, 24)}_notify`;
  return { table, shards: `${table}_shards`, channel, notifyFunction: `${prefix}${bare}_notify`, bare };
}

/**
 * Pending rows per shard in id order: a claim finds the shards that have pending rows with one short descent
 * each. Added after the first release: {@link createOutboxTables} adds it to an existing table too.
 */
function pendingByShardIndex({ table, bare }: OutboxTableNames): string {
  return `create index if not exists ${bare}_pending_shard on ${table} (shard, id) where state = 0`;
}

/** Serialises concurrent DDL (pg_advisory_xact_lock(int, int): its own lock space, apart from single-bigint locks). */
const ddlLock = [0x4f42_5844, 1] as const;

/** The DDL of the outbox tables (idempotent). */
export function outboxDdl(names: OutboxTableNames): string[] {
  const { table, shards, channel, notifyFunction, bare } = names;
  return [
    `create table if not exists ${table} (
      id bigserial primary key,
      topic text not null,
      key bytea not null,
      key_hash integer not null,
      shard smallint not null,
      event_id uuid not null unique,
      event_type text not null,
      occurred_at timestamptz not null,
      traceparent text,
      headers jsonb,
      payload bytea not null,
      written_at timestamptz not null default clock_timestamp(),
      state smallint not null default 0,
      sent_at timestamptz,
      published_partition integer,
      published_offset bigint,
      failed_at timestamptz,
      failed_reason text)`,
    `create index if not exists ${bare}_pending on ${table} (id) include (shard) where state = 0`,
    pendingByShardIndex(names),
    `create index if not exists ${bare}_failed on ${table} (topic, key, id) where state = 2`,
    `create index if not exists ${bare}_sent on ${table} (sent_at) where state = 1`,
    `create table if not exists ${shards} (shard smallint primary key)`,
    `insert into ${shards} (shard) select generate_series(0, ${outboxShardCount - 1}) on conflict do nothing`,
    `create or replace function ${notifyFunction}() returns trigger language plpgsql as $$ begin perform pg_notify('${channel}', ''); return null; end $$`,
    `drop trigger if exists ${bare}_notify on ${table}`,
    `create trigger ${bare}_notify after insert on ${table} for each statement execute function ${notifyFunction}()`,
  ];
}

/** Creates the outbox tables if missing (or the index a table of an earlier release lacks), in one transaction, under an advisory lock (several relays may start at once). */
export async function createOutboxTables(client: ClientBase, table: string): Promise<void> {
  const names = outboxTableNames(table);
  const schema = table.includes('.') ? table.split('.')[0] : undefined;
  const present = async () =>
    (await client.query<{ tables: string | null; index: string | null }>('select to_regclass($1) as tables, to_regclass($2) as index', [names.shards, `${schema ? `${schema}.` : ''}${names.bare}_pending_shard`])).rows[0];
  // Everything there already (every start but the first): one round trip, no lock.
  const found = await present();
  if (found?.tables && found.index) return;
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1, $2)', [...ddlLock]);
    if (schema) await client.query(`create schema if not exists ${schema}`);
    const locked = await present();
    if (!locked?.tables) for (const statement of outboxDdl(names)) await client.query(statement);
    else if (!locked.index) await client.query(pendingByShardIndex(names));
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}
