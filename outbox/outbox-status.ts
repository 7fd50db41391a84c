/** What is in an outbox: pending rows, the oldest one's age, failed rows by topic (`orderly outbox status`, the relay's gauges). */
import type { Pool, PoolClient } from 'pg';
import { outboxTableNames } from './outbox-table.ts';

export interface OutboxStatus {
  /** Rows not yet published (blocked rows included). */
  pending: number;
  /** Seconds since the oldest pending row was written; 0 when none is pending. */
  oldestPendingAgeSeconds: number;
  /** Rows marked failed: each blocks the later rows of its topic and key. */
  failed: number;
  /** Failed rows per topic and reason (at most 20 lines). */
  failures: { topic: string; reason: string; rows: number }[];
  /** Sent rows kept for the retention. */
  sentKept: number;
}

export async function readOutboxStatus(db: Pool | PoolClient, table: string): Promise<OutboxStatus> {
  const { table: name } = outboxTableNames(table);
  // One after the other: a relay's pool is small, and its claims need the connections more.
  const pending = await db.query<{ rows: string; age: number | null }>(`select count(*) as rows, extract(epoch from clock_timestamp() - min(written_at))::float8 as age from ${name} where state = 0`);
  const failed = await db.query<{ topic: string; reason: string; rows: string }>(`select topic, coalesce(failed_reason, '') as reason, count(*) as rows from ${name} where state = 2 group by 1, 2 order by 3 desc limit 20`);
  const failedTotal = await db.query<{ rows: string }>(`select count(*) as rows from ${name} where state = 2`);
  const sent = await db.query<{ rows: string }>(`select count(*) as rows from ${name} where state = 1`);
  const failures = failed.rows.map((row) => ({ topic: row.topic, reason: row.reason, rows: Number(row.rows) }));
  return {
    pending: Number(pending.rows[0]?.rows ?? 0),
    oldestPendingAgeSeconds: Math.max(0, Number(pending.rows[0]?.age ?? 0)),
    failed: Number(failedTotal.rows[0]?.rows ?? 0),
    failures,
    sentKept: Number(sent.rows[0]?.rows ?? 0),
  };
}

/** Puts failed rows back to pending (all, or those of one topic): after the topic was created, say. Returns how many. */
export async function requeueFailedRows(db: Pool | PoolClient, table: string, topic?: string): Promise<number> {
  const { table: name } = outboxTableNames(table);
  const result = await db.query(`update ${name} set state = 0, failed_at = null, failed_reason = null where state = 2 and ($1::text is null or topic = $1)`, [topic ?? null]);
  return result.rowCount ?? 0;
}
