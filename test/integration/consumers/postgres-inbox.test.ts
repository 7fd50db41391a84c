/**
 * PostgresInbox when PostgreSQL refuses new connections for a moment (its connection limit, shared by every
 * process on the server): the crash-and-rebalance test hung when three members' pools met a server at
 * max_connections: each handler failed its three in-place attempts within milliseconds ("sorry, too many
 * clients already"), the events went to a dead-letter topic the test does not create, and waited there forever.
 * Here a role with CONNECTION LIMIT 1 gives the same refusal (SQLSTATE 53300) on demand, on the real server.
 */
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PostgresInbox } from '../../../consumers/idempotency/postgres-inbox.ts';
import { emitWithoutProducer } from '../../../consumers/emit/attempt-emits.ts';
import type { HandledEvent, HandlerContext } from '../../../consumers/options.ts';
import { testStack, uniqueName } from '../../support/test-stack.ts';

/** A role allowed one connection, a pool logged in as it, and a table the role may write. */
async function limitedRole(): Promise<{ admin: pg.Pool; url: string; table: string }> {
  const admin = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 2 });
  const role = uniqueName('inbox_role').replaceAll('-', '_');
  const table = uniqueName('inbox_test').replaceAll('-', '_');
  await admin.query(`create role ${role} login connection limit 1`);
  await admin.query(`create table ${table} (group_id text not null, event_id text not null, payload_hash text not null, handled_at timestamptz not null default now(), primary key (group_id, event_id))`);
  await admin.query(`grant all on ${table} to ${role}`);
  onTestFinished(async () => {
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`);
    await admin.query(`drop table if exists ${table}`);
    await admin.query(`drop role if exists ${role}`);
    await admin.end();
  });
  const url = new URL(testStack().settings.DATABASE_URL);
  url.username = role;
  url.password = '';
  return { admin, url: url.toString(), table };
}

function eventOf(eventId: string): HandledEvent<unknown> {
  return { eventId, payloadHash: `hash-${eventId}` } as HandledEvent<unknown>;
}

function contextOf(signal: AbortSignal): HandlerContext {
  return { attempt: 1, signal, emit: emitWithoutProducer };
}

describe('PostgresInbox against a PostgreSQL that refuses connections for a moment', () => {
  it('waits for a connection at the connection limit instead of failing the attempt, and applies the event once', async () => {
    const { admin, url, table } = await limitedRole();
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined); // terminated at the end
    await holder.connect(); // the role's only connection: the next one is refused with 53300
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    onTestFinished(() => pool.end());
    await expect(pool.query('select 1')).rejects.toMatchObject({ code: '53300' });

    const inbox = new PostgresInbox({ pool, groupId: 'g', table });
    let applied = 0;
    const handler = inbox.handler(async () => {
      applied++;
    });
    const handled = handler(eventOf('e1'), contextOf(new AbortController().signal));
    setTimeout(() => void holder.end(), 300); // the server frees the slot
    await handled;
    expect(applied).toBe(1);
    const { rows } = await admin.query(`select event_id from ${table}`);
    expect(rows).toEqual([{ event_id: 'e1' }]);
  });

  it('in batch mode too: the batch waits for a connection at the connection limit, and applies its events once', async () => {
    const { admin, url, table } = await limitedRole();
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined);
    await holder.connect();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    onTestFinished(() => pool.end());
    const inbox = new PostgresInbox({ pool, groupId: 'g', table });
    let applied = 0;
    const handler = inbox.batchHandler(async () => {
      applied++;
    });
    const handled = Promise.all([handler(eventOf('b1'), contextOf(new AbortController().signal)), handler(eventOf('b2'), contextOf(new AbortController().signal))]);
    setTimeout(() => void holder.end(), 300);
    await handled;
    expect(applied).toBe(2);
    const { rows } = await admin.query(`select event_id from ${table} order by event_id`);
    expect(rows).toEqual([{ event_id: 'b1' }, { event_id: 'b2' }]);
  });

  it('gives up with the refusal once the attempt is aborted (timeout or stop): the attempt fails as any other', async () => {
    const { url, table } = await limitedRole();
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined);
    await holder.connect();
    onTestFinished(() => holder.end());
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    onTestFinished(() => pool.end());
    const inbox = new PostgresInbox({ pool, groupId: 'g', table });
    const handler = inbox.handler(async () => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('handler timeout')), 300);
    await expect(handler(eventOf('e2'), contextOf(controller.signal))).rejects.toMatchObject({ code: '53300' });
  });

  it('fails at once on an error that is not a refusal (nothing to wait for)', async () => {
    const { table } = await limitedRole();
    const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 1 });
    onTestFinished(() => pool.end());
    const inbox = new PostgresInbox({ pool, groupId: 'g', table: `${table}_missing` });
    const handler = inbox.handler(async () => undefined);
    await expect(handler(eventOf('e3'), contextOf(new AbortController().signal))).rejects.toMatchObject({ code: '42P01' });
  });
});
