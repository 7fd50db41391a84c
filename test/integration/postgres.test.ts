import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { testStack, uniqueName } from '../support/test-stack.ts';

describe('PostgreSQL of the stack', () => {
  it('commits and rolls back: the ground the transactional inbox stands on', async () => {
    const client = new pg.Client({ connectionString: testStack().settings.DATABASE_URL });
    await client.connect();
    const table = uniqueName('inbox_probe').replaceAll('-', '_');
    try {
      await client.query(`create table ${table} (event_id text primary key, amount integer not null)`);
      await client.query('begin');
      await client.query(`insert into ${table} values ('e1', 10)`);
      await client.query('rollback');
      await client.query('begin');
      await client.query(`insert into ${table} values ('e2', 20)`);
      await client.query('commit');
      // A second insert of the same event id is refused: the dedupe row is the unique key.
      await expect(client.query(`insert into ${table} values ('e2', 20)`)).rejects.toMatchObject({ code: '23505' });
      const { rows } = await client.query<{ event_id: string }>(`select event_id from ${table} order by event_id`);
      expect(rows.map((row) => row.event_id)).toEqual(['e2']);
    } finally {
      await client.query(`drop table if exists ${table}`);
      await client.end();
    }
  });
});
