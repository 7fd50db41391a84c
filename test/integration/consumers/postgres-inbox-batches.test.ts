/**
 * PostgresInbox's batch mode (group commit) on the real PostgreSQL: calls that arrive together share one
 * transaction; a failing event rolls back alone; duplicates (within a batch and across batches) are applied
 * once; an id conflict is detected; a commit that fails rejects every event of the batch and records nothing;
 * an event whose attempt is aborted (handler timeout) aborts its batch without holding the others, and runs
 * alone afterwards. The same on a pipelined pool (`pipeline: true`). The applier form (`check` per event, one
 * `apply` for all) applies a batch in one statement and falls back to one event at a time when it fails.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { emitWithoutProducer } from '../../../consumers/emit/attempt-emits.ts';
import type { HandledEvent, HandlerContext } from '../../../consumers/options.ts';
import { IdConflictError, RetryableError } from '../../../core/errors.ts';
import { testStack, uniqueName } from '../../support/test-stack.ts';

const inboxTable = uniqueName('inbox_batch').replaceAll('-', '_');
const effects = `${inboxTable}_effects`;
const parents = `${inboxTable}_parents`;
let pool: pg.Pool;
let pipelinedPool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 4 });
  pool.on('error', () => undefined);
  pipelinedPool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 4, pipeline: true });
  pipelinedPool.on('error', () => undefined);
  await new PostgresInbox({ pool, groupId: 'g', table: inboxTable }).createTable();
  await pool.query(`create table ${parents} (id integer primary key)`);
  // The parent reference is checked at commit: a handler can make the commit fail.
  await pool.query(`create table ${effects} (event_id text not null, txid bigint not null, parent integer references ${parents}(id) deferrable initially deferred)`);
});

afterAll(async () => {
  await pool.query(`drop table if exists ${effects}`);
  await pool.query(`drop table if exists ${parents}`);
  await pool.query(`drop table if exists ${inboxTable}`);
  await pool.end();
  await pipelinedPool.end();
});

let groupCounter = 0;
let pipelined = false;
/** An inbox of its own group, so the cases do not see each other's rows. */
function freshInbox(): { inbox: PostgresInbox; group: string } {
  const group = `group-${++groupCounter}-${Date.now()}`;
  return { inbox: new PostgresInbox({ pool: pipelined ? pipelinedPool : pool, groupId: group, table: inboxTable }), group };
}

function eventOf(eventId: string, payloadHash = `hash-${eventId}`): HandledEvent<unknown> {
  return { eventId, payloadHash } as HandledEvent<unknown>;
}

function contextOf(signal: AbortSignal = new AbortController().signal, attempt = 1): HandlerContext {
  return { attempt, signal, emit: emitWithoutProducer };
}

/** Records the event and its transaction id in the effects table. */
async function record(event: HandledEvent<unknown>, transaction: pg.PoolClient, parent: number | null = null): Promise<void> {
  await transaction.query(`insert into ${effects} (event_id, txid, parent) values ($1, txid_current(), $2)`, [event.eventId, parent]);
}

/** A handler that only records. */
const recordOnly = (event: HandledEvent<unknown>, transaction: pg.PoolClient) => record(event, transaction);

async function effectsOf(ids: string[]): Promise<{ event_id: string; txid: string }[]> {
  const { rows } = await pool.query<{ event_id: string; txid: string }>(`select event_id, txid from ${effects} where event_id = any($1::text[]) order by event_id`, [ids]);
  return rows;
}

async function inboxOf(group: string): Promise<string[]> {
  const { rows } = await pool.query<{ event_id: string }>(`select event_id from ${inboxTable} where group_id = $1 order by event_id`, [group]);
  return rows.map((row) => row.event_id);
}

const prefix = uniqueName('e');
let idCounter = 0;
const ids = (name: string, count: number) => {
  const run = ++idCounter;
  return Array.from({ length: count }, (_, index) => `${prefix}-${run}-${name}-${String(index).padStart(2, '0')}`);
};

describe.each([
  ['a plain pool', false],
  ['a pipelined pool', true],
])('PostgresInbox.batchHandler on %s', (_, withPipeline) => {
  beforeAll(() => {
    pipelined = withPipeline;
  });

  it('applies the calls that arrive together in one transaction, committed once', async () => {
    const { inbox, group } = freshInbox();
    let calls = 0;
    const handler = inbox.batchHandler(async (event, transaction) => {
      calls++;
      await record(event, transaction);
    });
    const events = ids('together', 20);
    await Promise.all(events.map((id) => handler(eventOf(id), contextOf())));
    const rows = await effectsOf(events);
    expect(rows.map((row) => row.event_id)).toEqual(events);
    expect(new Set(rows.map((row) => row.txid)).size).toBe(1); // one transaction
    expect(calls).toBe(20);
    expect(await inboxOf(group)).toEqual(events);
  });

  it('rolls a failing event back alone: its call rejects with its error, the others commit', async () => {
    const { inbox, group } = freshInbox();
    const events = ids('one-fails', 10);
    const failing = events[4]!;
    const handler = inbox.batchHandler(async (event, transaction) => {
      await record(event, transaction); // written, then rolled back to its savepoint
      if (event.eventId === failing) throw new Error('handler failed');
    });
    const results = await Promise.allSettled(events.map((id) => handler(eventOf(id), contextOf())));
    expect(results.map((result) => result.status)).toEqual(events.map((id) => (id === failing ? 'rejected' : 'fulfilled')));
    expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ message: 'handler failed' });
    const others = events.filter((id) => id !== failing);
    expect((await effectsOf(events)).map((row) => row.event_id)).toEqual(others);
    expect(await inboxOf(group)).toEqual(others); // no inbox row for the failed event: it is not applied
    // Its retry applies it.
    const retry = inbox.batchHandler(recordOnly);
    await retry(eventOf(failing), contextOf(undefined, 2));
    expect((await effectsOf([failing])).length).toBe(1);
    expect(await inboxOf(group)).toEqual(events);
  });

  it('never resolves an event whose handler caught a failed statement: it is undone alone (middle or last of the batch), the others commit', async () => {
    for (const position of [1, 2]) {
      const { inbox, group } = freshInbox();
      const events = ids(`swallowed-${position}`, 3);
      const swallowing = events[position]!;
      const handler = inbox.batchHandler(async (event, transaction) => {
        await record(event, transaction);
        if (event.eventId === swallowing) {
          // "insert; on error ignore": the statement fails and the transaction is aborted, the handler returns.
          await transaction.query('select 1 / 0').catch(() => undefined);
        }
      });
      const outcomes = await Promise.allSettled(events.map((id) => handler(eventOf(id), contextOf())));
      const rows = (await effectsOf(events)).map((row) => row.event_id);
      // Whatever resolved is written; the swallowing event is rejected as retryable and left no inbox row.
      for (const [index, outcome] of outcomes.entries()) {
        if (outcome.status === 'fulfilled') expect(rows).toContain(events[index]);
      }
      expect(outcomes[position]!.status).toBe('rejected');
      expect((outcomes[position] as PromiseRejectedResult).reason).toBeInstanceOf(RetryableError);
      expect(rows).not.toContain(swallowing);
      expect(await inboxOf(group)).not.toContain(swallowing);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled').length).toBe(2);
    }
  });

  it('applies an event once when it comes twice in one batch and again in a later batch', async () => {
    const { inbox, group } = freshInbox();
    const [first, second] = ids('duplicates', 2) as [string, string];
    let calls = 0;
    const handler = inbox.batchHandler(async (event, transaction) => {
      calls++;
      await record(event, transaction);
    });
    await Promise.all([handler(eventOf(first), contextOf()), handler(eventOf(first), contextOf()), handler(eventOf(second), contextOf())]);
    await Promise.all([handler(eventOf(first), contextOf()), handler(eventOf(second), contextOf())]);
    expect(calls).toBe(2);
    expect((await effectsOf([first, second])).map((row) => row.event_id)).toEqual([first, second]);
    expect(await inboxOf(group)).toEqual([first, second]);
  });

  it('rejects an event id applied before with another payload as an IdConflictError; its batch commits', async () => {
    const { inbox, group } = freshInbox();
    const [applied, other] = ids('conflict', 2) as [string, string];
    const handler = inbox.batchHandler(recordOnly);
    await handler(eventOf(applied, 'hash-a'), contextOf());
    const results = await Promise.allSettled([handler(eventOf(applied, 'hash-b'), contextOf()), handler(eventOf(other), contextOf())]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: expect.any(IdConflictError) });
    expect(results[1]).toMatchObject({ status: 'fulfilled' });
    expect((await effectsOf([applied])).length).toBe(1);
    expect(await inboxOf(group)).toEqual([applied, other]);
  });

  it('rejects every event of a batch whose commit fails, and records nothing of it', async () => {
    const { inbox, group } = freshInbox();
    const events = ids('commit-fails', 6);
    const breaking = events[2]!;
    let calls = 0;
    const handler = inbox.batchHandler(async (event, transaction) => {
      calls++;
      await record(event, transaction, event.eventId === breaking ? 404 : null); // no parent 404: the commit fails
    });
    const results = await Promise.allSettled(events.map((id) => handler(eventOf(id), contextOf())));
    expect(calls).toBe(6); // every handler succeeded ...
    for (const result of results) {
      expect(result.status).toBe('rejected'); // ... and every call rejects: none may be marked done
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(RetryableError);
      expect(String(((result as PromiseRejectedResult).reason as Error).cause)).toMatch(/foreign key/);
    }
    expect(await effectsOf(events)).toEqual([]);
    expect(await inboxOf(group)).toEqual([]);
  });

  it('aborts the batch when an event times out: the slow one rejects with its reason, those run before retry, those after go on; it runs alone next time', async () => {
    const { inbox, group } = freshInbox();
    const [before, slow, after] = ids('timeout', 3) as [string, string, string];
    let slowOnce = true;
    const handler = inbox.batchHandler(async (event, transaction) => {
      await record(event, transaction);
      if (event.eventId === slow && slowOnce) {
        slowOnce = false;
        await transaction.query('select pg_sleep(60)'); // a statement the server is busy with: its locks must go too
      }
    });
    const timeout = new AbortController();
    setTimeout(() => timeout.abort(new Error('handler timeout')), 500);
    const startedAt = Date.now();
    const results = await Promise.allSettled([handler(eventOf(before), contextOf()), handler(eventOf(slow), contextOf(timeout.signal)), handler(eventOf(after), contextOf())]);
    expect(Date.now() - startedAt).toBeLessThan(30_000); // not held by the 60 s statement
    expect(results[0]).toMatchObject({ status: 'rejected', reason: expect.any(RetryableError) });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: 'handler timeout' } });
    expect(results[2]).toMatchObject({ status: 'fulfilled' }); // not run when the batch was aborted: carried on
    expect(await inboxOf(group)).toEqual([after]);

    // The retries: the slow event runs in a transaction of its own; its inbox row is not locked any more.
    await Promise.all([handler(eventOf(before), contextOf(undefined, 2)), handler(eventOf(slow), contextOf(undefined, 2))]);
    const rows = await effectsOf([before, slow]);
    expect(rows.map((row) => row.event_id)).toEqual([before, slow]);
    expect(rows[0]!.txid).not.toBe(rows[1]!.txid);
    expect(await inboxOf(group)).toEqual([after, before, slow].sort());
  }, 60_000);

  it('rejects at once an event whose attempt is aborted while it waits for a batch', async () => {
    const { inbox } = freshInbox();
    const handler = inbox.batchHandler(recordOnly, { maxBatchesInFlight: 1, maxBatchEvents: 1 });
    const [first, waiting] = ids('queued-abort', 2) as [string, string];
    const aborted = new AbortController();
    const running = handler(eventOf(first), contextOf());
    const queued = handler(eventOf(waiting), contextOf(aborted.signal));
    aborted.abort(new Error('consumer stopping'));
    await expect(queued).rejects.toThrow('consumer stopping');
    await running;
    expect((await effectsOf([first, waiting])).map((row) => row.event_id)).toEqual([first]);
  });

  it('refuses bad options with a clear error', () => {
    const { inbox } = freshInbox();
    expect(() => inbox.batchHandler(recordOnly, { maxBatchEvents: 0 })).toThrow(/maxBatchEvents \(0\) must be a whole number from 1 to 10000/);
    expect(() => inbox.batchHandler(recordOnly, { maxWaitMs: -1, maxBatchesInFlight: 0 })).toThrow(/maxWaitMs \(-1\).*maxBatchesInFlight \(0\)/);
  });
});

describe('PostgresInbox.batchHandler with a BatchApplier (check per event, one apply for all)', () => {
  beforeAll(() => {
    pipelined = true;
  });

  /** Records every event in one statement; an event named "*-bad-*" references a missing parent (fails the statement). */
  function applierOf(calls: number[]) {
    return {
      check: (event: HandledEvent<unknown>) => {
        if (event.eventId.includes('-check-fails-')) throw new Error('check failed');
      },
      apply: async (events: readonly HandledEvent<unknown>[], transaction: pg.PoolClient) => {
        calls.push(events.length);
        await transaction.query(`insert into ${effects} (event_id, txid) select event_id, txid_current() from unnest($1::text[]) as rows(event_id)`, [events.map((event) => event.eventId)]);
        if (events.some((event) => event.eventId.includes('-bad-'))) await transaction.query('select 1 / 0');
      },
    };
  }

  it('applies a batch in one statement and one transaction', async () => {
    const { inbox, group } = freshInbox();
    const calls: number[] = [];
    const handler = inbox.batchHandler(applierOf(calls));
    const events = ids('applier', 12);
    await Promise.all(events.map((id) => handler(eventOf(id), contextOf())));
    expect(calls).toEqual([12]);
    const rows = await effectsOf(events);
    expect(rows.map((row) => row.event_id)).toEqual(events);
    expect(new Set(rows.map((row) => row.txid)).size).toBe(1);
    expect(await inboxOf(group)).toEqual(events);
  });

  it('fails an event whose check throws alone, and one whose writes fail alone (the others applied one at a time)', async () => {
    const { inbox, group } = freshInbox();
    const calls: number[] = [];
    const handler = inbox.batchHandler(applierOf(calls));
    const good = ids('good', 4);
    const [checkFails] = ids('check-fails', 1) as [string];
    const [bad] = ids('bad', 1) as [string];
    const all = [...good.slice(0, 2), checkFails, bad, ...good.slice(2)];
    const results = await Promise.allSettled(all.map((id) => handler(eventOf(id), contextOf())));
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: 'check failed' });
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ message: 'division by zero' });
    expect(calls).toEqual([5, 1, 1, 1, 1, 1]); // all five at once, then each alone after the statement failed
    expect((await effectsOf(all)).map((row) => row.event_id)).toEqual([...good].sort());
    expect(await inboxOf(group)).toEqual([...good].sort());
  });

  it('gives up a batch whose apply outlives an attempt: every event rejects as retryable, nothing is recorded, the retry applies them', async () => {
    const { inbox, group } = freshInbox();
    let slowOnce = true;
    const handler = inbox.batchHandler({
      apply: async (events: readonly HandledEvent<unknown>[], transaction: pg.PoolClient) => {
        await transaction.query(`insert into ${effects} (event_id, txid) select event_id, txid_current() from unnest($1::text[]) as rows(event_id)`, [events.map((event) => event.eventId)]);
        if (slowOnce) {
          slowOnce = false;
          await transaction.query('select pg_sleep(60)');
        }
      },
    });
    const events = ids('applier-slow', 3);
    const timeout = new AbortController();
    setTimeout(() => timeout.abort(new Error('handler timeout')), 500);
    const results = await Promise.allSettled(events.map((id, index) => handler(eventOf(id), contextOf(index === 0 ? timeout.signal : undefined))));
    for (const result of results) expect(result).toMatchObject({ status: 'rejected', reason: expect.any(RetryableError) });
    expect(await effectsOf(events)).toEqual([]);
    await Promise.all(events.map((id) => handler(eventOf(id), contextOf(undefined, 2)))); // the rows are not locked any more
    expect((await effectsOf(events)).map((row) => row.event_id)).toEqual(events);
    expect(await inboxOf(group)).toEqual(events);
  }, 60_000);
});
