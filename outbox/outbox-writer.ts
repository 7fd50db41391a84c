/**
 * Adds events to the outbox inside the caller's own transaction: `await outbox.add(client, { topic, key,
 * event, schema })` with the caller's pg `PoolClient`, between its `begin` and `commit`. The value is encoded
 * and checked against the registry here (an unregistered schema, an invalid value or an oversized payload
 * throws, and so fails the business transaction, not the relay later); the event id, a UUIDv7, is assigned
 * here too and returned.
 *
 * Per-key order: the insert first takes a transaction-scoped advisory lock on the key (its topic and key
 * hash), then draws the row ids. A second transaction writing the same key waits at that lock until the first
 * commits or rolls back, so per key the ids follow the commit order and a relay never sees a key's later row
 * before an earlier one has committed (docs/outbox.md, "Ordering"). Keys of one `addAll` are locked in hash
 * order; transactions that add the same keys in separate calls in opposite orders can deadlock (PostgreSQL
 * aborts one of them): add them together, or in one order.
 */
import type { PoolClient } from 'pg';
import { OrderlyError } from '../core/errors.ts';
import { newEventId } from '../producers/event-id.ts';
import { activeTraceContext } from '../producers/trace-parent.ts';
import { AvroEncoder } from '../schemas/avro-encoder.ts';
import { avroType, fullNameOf, type AvroSchemaInput } from '../schemas/avro-type.ts';
import { subjectName } from '../schemas/subject-name-strategy.ts';
import { outboxKeyHash, outboxShardOf } from './key-hash.ts';
import { validateOutboxWriterOptions, type OutboxWriterOptions, type ValidOutboxWriterOptions } from './outbox-options.ts';
import { outboxShardCount, outboxTableNames, type OutboxTableNames } from './outbox-table.ts';

/** One event for the outbox. */
export interface OutboxEntry<V = unknown> {
  topic: string;
  /** The entity id (account id, order id): required, never empty. */
  key: string | Buffer;
  /** The event's value, checked against `schema`. */
  event: V;
  /** Its Avro schema: an avsc Type, a schema object or `.avsc` text. */
  schema: AvroSchemaInput;
  /** @defaultValue the full name of the schema's record */
  type?: string;
  /** @defaultValue now */
  occurredAt?: Date;
  /** Extra headers (text); they cannot replace an envelope header. */
  headers?: Record<string, string>;
}

/** What `add` wrote: the event id the published record will carry. */
export interface OutboxReceipt {
  eventId: string;
}

/** The advisory lock space of one outbox table (the first int of pg_advisory_xact_lock(int, int)). */
export function outboxLockSpace(table: string): number {
  return outboxKeyHash(`orderly-outbox-lock:${table}`, Buffer.alloc(0));
}

interface EncodedRow {
  topic: string;
  key: Buffer;
  keyHash: number;
  shard: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  traceparent: string | null;
  headers: string | null;
  payload: Buffer;
}

export class OutboxWriter {
  readonly #options: ValidOutboxWriterOptions;
  readonly #names: OutboxTableNames;
  readonly #encoder: AvroEncoder;
  readonly #lockSpace: number;
  readonly #insert: string;

  constructor(options: OutboxWriterOptions) {
    this.#options = validateOutboxWriterOptions(options);
    this.#names = outboxTableNames(this.#options.table);
    this.#encoder = new AvroEncoder({ registry: this.#options.registry, autoRegister: this.#options.autoRegister });
    this.#lockSpace = outboxLockSpace(this.#names.table);
    // One statement: the key locks (an aggregate, so all taken before any row), then the rows in the order
    // given, ids drawn after the locks. Safe outside an explicit transaction too (then each call commits alone).
    this.#insert = `insert into ${this.#names.table} (topic, key, key_hash, shard, event_id, event_type, occurred_at, traceparent, headers, payload)
      select e.topic, e.key, e.key_hash, e.shard, e.event_id, e.event_type, e.occurred_at, e.traceparent, e.headers, e.payload
      from (select count(pg_advisory_xact_lock($1::integer, h)) as locked from (select distinct unnest($4::integer[]) as h order by 1) hashes) locks,
        unnest($2::text[], $3::bytea[], $4::integer[], $5::smallint[], $6::uuid[], $7::text[], $8::timestamptz[], $9::text[], $10::jsonb[], $11::bytea[])
          with ordinality as e(topic, key, key_hash, shard, event_id, event_type, occurred_at, traceparent, headers, payload, ordinal)
      where locks.locked >= 0
      order by e.ordinal`;
  }

  /** The table this writer adds to. */
  get table(): string {
    return this.#names.table;
  }

  /** Adds one event in the caller's transaction; returns its event id. Throws (nothing written) when the event is refused. */
  async add<V>(client: PoolClient, entry: OutboxEntry<V>): Promise<OutboxReceipt> {
    const [receipt] = await this.addAll(client, [entry]);
    return receipt!;
  }

  /** Adds events in one statement, in the order given (per key, that is the order they are published in). */
  async addAll<V>(client: PoolClient, entries: readonly OutboxEntry<V>[]): Promise<OutboxReceipt[]> {
    if (entries.length === 0) return [];
    const rows = await Promise.all(entries.map((entry) => this.#encode(entry)));
    await client.query(this.#insert, [
      this.#lockSpace,
      rows.map((row) => row.topic),
      rows.map((row) => row.key),
      rows.map((row) => row.keyHash),
      rows.map((row) => row.shard),
      rows.map((row) => row.eventId),
      rows.map((row) => row.eventType),
      rows.map((row) => row.occurredAt),
      rows.map((row) => row.traceparent),
      rows.map((row) => row.headers),
      rows.map((row) => row.payload),
    ]);
    return rows.map((row) => ({ eventId: row.eventId }));
  }

  async #encode<V>(entry: OutboxEntry<V>): Promise<EncodedRow> {
    const { topic } = entry;
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > 249) throw new OrderlyError('CONFIGURATION', `an outbox event needs a topic (1 to 249 characters), not ${JSON.stringify(topic)}`);
    const rawKey = entry.key as unknown;
    if ((typeof rawKey !== 'string' && !Buffer.isBuffer(rawKey)) || rawKey.length === 0) throw new OrderlyError('MISSING_KEY', `an outbox event for topic ${topic} has no key: give every event its entity id as key`, { context: { topic } });
    const key = typeof rawKey === 'string' ? Buffer.from(rawKey, 'utf8') : rawKey;
    const headers = entry.headers ?? {};
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string') throw new OrderlyError('ENCODE', `outbox header ${name} of an event for ${topic} must be text`, { context: { topic } });
    }
    const type = avroType(entry.schema);
    const { subjectNameStrategy: strategy, maxPayloadBytes } = this.#options;
    const schemaId = await this.#encoder.schemaId(subjectName(strategy, topic, fullNameOf(type)), type, { strategy, topic });
    const payload = this.#encoder.frame(schemaId, type, entry.event);
    if (payload.length > maxPayloadBytes) {
      throw new OrderlyError('ENCODE', `an outbox event for ${topic} encodes to ${payload.length} bytes, over maxPayloadBytes (${maxPayloadBytes})`, { context: { topic } });
    }
    const occurredAt = entry.occurredAt ?? new Date();
    if (Number.isNaN(occurredAt.getTime())) throw new OrderlyError('ENCODE', `an outbox event for ${topic} has an invalid occurredAt`, { context: { topic } });
    const keyHash = outboxKeyHash(topic, key);
    const trace = activeTraceContext();
    const stored = storedHeaders(headers, trace?.tracestate);
    return {
      topic,
      key,
      keyHash,
      shard: outboxShardOf(keyHash, outboxShardCount),
      eventId: newEventId(),
      eventType: entry.type ?? fullNameOf(type),
      occurredAt: occurredAt.toISOString(),
      traceparent: trace?.traceparent ?? null,
      headers: stored === undefined ? null : JSON.stringify(stored),
      payload,
    };
  }
}

/**
 * The headers column: the caller's headers, and the writer's W3C `tracestate` under its header name (the table
 * has a `traceparent` column but none for `tracestate`: kept here, it needs no migration; the relay takes it out
 * again). A caller's own `tracestate` is dropped: it is an envelope header, which a publish would drop too.
 */
function storedHeaders(headers: Record<string, string>, tracestate: string | undefined): Record<string, string> | undefined {
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== 'tracestate') stored[name] = value;
  if (tracestate !== undefined) stored.tracestate = tracestate;
  return Object.keys(stored).length > 0 ? stored : undefined;
}
