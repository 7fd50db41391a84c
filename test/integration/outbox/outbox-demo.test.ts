/**
 * `orderly demo produce --via-outbox` and `orderly outbox status` as an operator runs them: every event recorded
 * in `demo_published` reaches the topic under the id recorded there, per account in sequence order, and the
 * outbox is empty after. (The all-in-one `orderly demo --via-outbox [--chaos]` adds the workers and relay
 * processes; its consumer side is the one `test/integration/demo` covers.)
 */
import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { ledgerNamespaceOf } from '../../../examples/ledger/ledger-store.ts';
import { readEnvelope } from '../../../producers/envelope-headers.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testKafka, testStack, uniqueName } from '../../support/test-stack.ts';

it('demo produce --via-outbox publishes exactly the events of demo_published, under their ids, in per-account order', async () => {
  const topic = uniqueName('outbox-demo');
  const group = 'g';
  const schema = ledgerNamespaceOf(topic, group);
  const database = testStack().settings.DATABASE_URL;
  const pool = new pg.Pool({ connectionString: database, max: 2 });
  const admin = await testAdmin();
  onTestFinished(async () => {
    await pool.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await pool.end();
    const topics = (await admin.listTopics()).filter((name) => name === topic || name.startsWith(`${topic}.`));
    await admin.deleteTopics({ topics }).catch(() => undefined);
  });

  const produced = await orderly('demo', 'produce', '--via-outbox', '--events', '600', '--keys', '40', '--topic', topic, '--group', group, '--database', database);
  expect(produced.stderr).not.toMatch(/error/i);
  expect(produced.code).toBe(0);
  expect(produced.stdout).toContain('published 600 events');
  const status = await orderly('outbox', 'status', '--database', database, '--table', `${schema}.orderly_outbox`, '--json');
  expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, failed: 0 });

  const recorded = (await pool.query<{ event_id: string; account_id: string; sequence: string }>(`select event_id, account_id, sequence from ${schema}.demo_published`)).rows;
  expect(recorded).toHaveLength(600);
  const consumer = testKafka().consumer({ groupId: uniqueName('outbox-demo-reader') });
  const landed: { eventId: string; key: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 60_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          landed.push({ eventId: readEnvelope(message.headers).eventId ?? '', key: message.key!.toString() });
          if (landed.length >= 600) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  expect(landed.map((record) => record.eventId).sort()).toEqual(recorded.map((row) => row.event_id).sort());
  const sequenceOf = new Map(recorded.map((row) => [row.event_id, Number(row.sequence)]));
  const last = new Map<string, number>();
  for (const record of landed) {
    const sequence = sequenceOf.get(record.eventId)!;
    expect(sequence, record.key).toBe((last.get(record.key) ?? 0) + 1);
    last.set(record.key, sequence);
  }
});
