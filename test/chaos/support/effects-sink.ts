/**
 * The independent sink check: every member writes one row per applied event (through the PostgreSQL inbox,
 * so the row and the dedupe record commit together) with the partition and offset it came from and when.
 * From those rows and the dead-letter topic alone it counts events lost, duplicate effects and per-key order
 * violations; the commit audit uses the completion times.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export interface AppliedRow {
  eventId: string;
  key: string;
  sequence: number;
  partition: number;
  offset: number;
  /** Epoch ms of the insert (PostgreSQL's clock_timestamp(), the same clock as this machine's). */
  at: number;
}

export interface DeadLetteredEvent {
  eventId: string | undefined;
  reason: string | undefined;
  partition: number | undefined;
  offset: number | undefined;
  at: number;
}

export interface SinkCounts {
  lost: number;
  duplicateEffects: number;
  orderViolations: number;
}

export class EffectsSink {
  readonly table = `chaos_effects_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  }

  async create(): Promise<void> {
    await this.pool
      .query(`create table if not exists orderly_inbox (group_id text not null, event_id text not null, payload_hash text not null, handled_at timestamptz not null default now(), primary key (group_id, event_id))`)
      .catch(() => undefined);
    await this.pool.query(`create table ${this.table} (applied bigserial primary key, event_id text not null, key text not null, sequence integer not null,
      source_partition integer not null, source_offset bigint not null, member text not null, inserted_at timestamptz not null default clock_timestamp())`);
  }

  /**
   * A query that waits (up to 60 s) while PostgreSQL refuses new connections: the server is shared with the
   * members and other test runs, and its connection limit (SQLSTATE 53300) is no verdict on the scenario.
   */
  private async query<Row extends pg.QueryResultRow>(text: string): Promise<pg.QueryResult<Row>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        return await this.pool.query<Row>(text);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (!(code === '53300' || code === '57P03' || code === 'ECONNREFUSED') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async appliedCount(): Promise<number> {
    const { rows } = await this.query<{ count: string }>(`select count(*) from ${this.table}`);
    return Number(rows[0]!.count);
  }

  async rows(): Promise<AppliedRow[]> {
    const { rows } = await this.query<{ event_id: string; key: string; sequence: number; source_partition: number; source_offset: string; at: string }>(
      `select event_id, key, sequence, source_partition, source_offset, (extract(epoch from inserted_at) * 1000)::float8 as at from ${this.table} order by applied`,
    );
    return rows.map((row) => ({ eventId: row.event_id, key: row.key, sequence: row.sequence, partition: row.source_partition, offset: Number(row.source_offset), at: Number(row.at) }));
  }

  async drop(): Promise<void> {
    await this.pool.query(`drop table if exists ${this.table}`).catch(() => undefined);
    await this.pool.end();
  }
}

/**
 * Counts against what was published (`expected`: key → its last sequence, sequences 1..n): an event is lost
 * when it is neither applied nor dead-lettered; a duplicate effect is a second row for one event id; an order
 * violation is a row whose sequence is not the key's next one, a dead-lettered predecessor excepted.
 */
export function countSink(expected: ReadonlyMap<string, number>, rows: readonly AppliedRow[], deadLettered: readonly DeadLetteredEvent[]): SinkCounts {
  const dead = new Set(deadLettered.map(({ eventId }) => eventId).filter((id): id is string => id !== undefined));
  const seen = new Set<string>();
  let duplicateEffects = 0;
  let orderViolations = 0;
  const last = new Map<string, number>();
  for (const row of rows) {
    if (seen.has(row.eventId)) duplicateEffects++;
    seen.add(row.eventId);
    let next = (last.get(row.key) ?? 0) + 1;
    while (next < row.sequence && dead.has(`${row.key}#${next}`)) next++;
    if (row.sequence !== next) orderViolations++;
    last.set(row.key, Math.max(row.sequence, last.get(row.key) ?? 0));
  }
  let lost = 0;
  for (const [key, count] of expected) {
    for (let sequence = 1; sequence <= count; sequence++) {
      const id = `${key}#${sequence}`;
      if (!seen.has(id) && !dead.has(id)) lost++;
    }
  }
  return { lost, duplicateEffects, orderViolations };
}
