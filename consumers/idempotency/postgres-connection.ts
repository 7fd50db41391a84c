/**
 * Taking a pooled PostgreSQL connection for the transactional inbox, waiting out a server that refuses new
 * connections for a moment, and ending the server side of a connection given up mid-transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { backoffDelayMs } from '../retries/backoff.ts';

/**
 * A connection, waiting (with backoff) while PostgreSQL refuses new ones for a moment: at its connection
 * limit (SQLSTATE 53300, shared servers reach it), starting up or shutting down (57P03), or unreachable.
 * Nothing is applied yet, so this is no failure of the event: without the wait, the in-place attempts would
 * all fail within milliseconds and the event go to the DLT. The wait ends when `signalOf()` is aborted
 * (handler timeout, consumer stopping); the attempt then fails as any other would. `signalOf` is called only
 * on a refusal (a handler context makes its AbortController on the first read of its signal).
 */
export async function connectWaitingOutRefusals(pool: Pool, signalOf: () => AbortSignal): Promise<PoolClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.connect();
    } catch (error) {
      const signal = signalOf();
      if (!isConnectionRefusal(error) || signal.aborted) throw error;
      await sleep(backoffDelayMs(attempt, { baseMs: 50, maxMs: 1_000 }), undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw error;
    }
  }
}

const refusalCodes = new Set(['53300', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);

/** PostgreSQL (or the network) refusing a new connection for now, as opposed to a broken request. */
export function isConnectionRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && refusalCodes.has(code);
}

/** How long {@link terminateBackend} tries, in ms. */
const terminateTimeoutMs = 5_000;

/**
 * Ends the server process of a connection this side gave up on (its client already destroyed): closing the
 * socket is not enough while the server is busy in a statement (a lock wait, a long query), and until it
 * notices, the transaction keeps its row locks (inbox rows other members' retries wait on). Uses a connection
 * of its own, outside the pool (the pool may be full); bounded, and best effort: errors are ignored.
 */
export async function terminateBackend(pool: Pool, processId: number | undefined): Promise<void> {
  if (processId === undefined) return;
  const client = new pg.Client({ ...(pool.options as pg.ClientConfig), connectionTimeoutMillis: terminateTimeoutMs, statement_timeout: terminateTimeoutMs });
  client.on('error', () => undefined);
  const timer = setTimeout(() => void client.end().catch(() => undefined), terminateTimeoutMs).unref();
  try {
    await client.connect();
    await client.query('select pg_terminate_backend($1)', [processId]);
  } catch {
    // best effort: the server rolls the transaction back once it notices the closed socket
  } finally {
    clearTimeout(timer);
    await client.end().catch(() => undefined);
  }
}
