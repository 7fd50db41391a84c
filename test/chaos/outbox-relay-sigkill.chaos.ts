// Invariant: with 3 outbox relays (`orderly outbox relay` processes) and one SIGKILLed every 5 s while writers commit 20,000 events, every committed event is published, per key in commit order, and a republished event keeps its id.
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createKafkaClient } from '../../core/kafka-client.ts';
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { OutboxWriter } from '../../outbox/outbox-writer.ts';
import { createOutboxTables } from '../../outbox/outbox-table.ts';
import { readOutboxStatus } from '../../outbox/outbox-status.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { checkOrder, dropOutboxTable, outboxProbeSchema, readTopic, uniqueOutboxTable } from '../support/outbox-harness.ts';
import { chaosName, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface OutboxRelaySigkillParameters {
  events: number;
  keys: number;
  partitions: number;
  relays: number;
  killIntervalMs: number;
  /** Kills at least (the run goes on killing until the events are written and this many kills happened). */
  minKills: number;
  /** How long the writers take to commit the events (paced). */
  produceMs: number;
  writers: number;
  /** Events per writer transaction. */
  perTransaction: number;
  /** Share of writer transactions rolled back on purpose (their events must never appear). */
  rollbackShare: number;
}

/** The figures: three relays, a kill every 5 s, 20,000 events. */
export const fullOutboxRelaySigkill: OutboxRelaySigkillParameters = { events: 20_000, keys: 500, partitions: 6, relays: 3, killIntervalMs: 5_000, minKills: 10, produceMs: 60_000, writers: 4, perTransaction: 20, rollbackShare: 0.05 };

interface RelayProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

export async function outboxRelaySigkillScenario(settings: StackSettings, parameters: OutboxRelaySigkillParameters = fullOutboxRelaySigkill, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const topic = chaosName('outbox-chaos');
  const table = uniqueOutboxTable('outbox_chaos');
  const database = settings.DATABASE_URL;
  const registryUrl = settings.SCHEMA_REGISTRY_URL!;
  const kafka = createKafkaClient({ brokers: settings.KAFKA_BROKERS.split(','), clientId: 'outbox-chaos' });
  const registry = new SchemaRegistryClient({ url: registryUrl });
  const pool = new pg.Pool({ connectionString: database, max: parameters.writers + 2 });
  const admin = kafka.admin();
  await admin.connect();
  const relays: RelayProcess[] = [];
  let relayCount = 0;
  const startRelay = (): RelayProcess => {
    const name = `relay-${++relayCount}`;
    const child = spawn(process.execPath, ['cli/bin.ts', 'outbox', 'relay', '--database', database, '--table', table, '--log-level', 'error'], {
      cwd: projectRoot,
      env: { ...process.env, KAFKA_BROKERS: settings.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: registryUrl },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const relay = { name, child, exited };
    relays.push(relay);
    return relay;
  };
  const keySeq = `${table}_keys`;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: parameters.partitions }], waitForLeaders: true });
    const setup = await pool.connect();
    try {
      await createOutboxTables(setup, table);
    } finally {
      setup.release();
    }
    // The business table: a row per key, its last committed sequence (locked by each writer that adds to the key).
    await pool.query(`create table ${keySeq} (key text primary key, seq bigint not null)`);
    const keys = Array.from({ length: parameters.keys }, (_, index) => `key-${index}`);
    await pool.query(`insert into ${keySeq} select unnest($1::text[]), 0`, [keys]);
    for (let index = 0; index < parameters.relays; index++) startRelay();

    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    let committed = 0;
    let rolledBack = 0;
    let writeFailures = 0;
    const transactions = Math.ceil(parameters.events / parameters.perTransaction);
    const pauseMs = (parameters.produceMs * parameters.writers) / transactions;
    // Until the events committed reach the target (rolled-back transactions do not count).
    let writing = 0;
    const writeLoop = async () => {
      while (committed + writing < parameters.events) {
        writing += parameters.perTransaction;
        const chosen = [...new Set(Array.from({ length: parameters.perTransaction }, () => keys[Math.floor(Math.random() * keys.length)]!))].sort();
        const client = await pool.connect();
        try {
          await client.query('begin');
          await client.query(`select key from ${keySeq} where key = any($1) order by key for update`, [chosen]);
          const { rows } = await client.query<{ key: string; seq: string }>(`update ${keySeq} set seq = seq + 1 where key = any($1) returning key, seq`, [chosen]);
          const sequenceOf = new Map(rows.map((row) => [row.key, Number(row.seq)]));
          await writer.addAll(client, chosen.map((key) => ({ topic, key, schema: outboxProbeSchema, event: { key, sequence: sequenceOf.get(key)! } })));
          if (Math.random() < parameters.rollbackShare) {
            await client.query('rollback');
            rolledBack += chosen.length;
          } else {
            await client.query('commit');
            committed += chosen.length;
          }
        } catch (error) {
          writeFailures++;
          await client.query('rollback').catch(() => undefined);
          log(`writer transaction failed (rolled back): ${(error as Error).message}`);
        } finally {
          client.release();
          writing -= parameters.perTransaction;
        }
        await sleep(pauseMs * (0.5 + Math.random()));
      }
    };
    const writers = Promise.all(Array.from({ length: parameters.writers }, writeLoop));
    let written = false;
    void writers.then(() => (written = true));

    let kills = 0;
    while (!written || kills < parameters.minKills) {
      await sleep(parameters.killIntervalMs);
      const alive = relays.filter((relay) => relay.child.exitCode === null && relay.child.signalCode === null);
      const victim = alive[Math.floor(Math.random() * alive.length)];
      if (victim) {
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
      }
      const started = startRelay();
      const status = await readOutboxStatus(pool, table);
      log(`kill ${kills}: SIGKILL ${victim?.name ?? '(none alive)'}, started ${started.name}; committed ${committed}, outbox pending ${status.pending} (oldest ${status.oldestPendingAgeSeconds.toFixed(1)} s), failed ${status.failed}`);
    }
    await writers;

    // Drained: nothing pending (bounded wait).
    const drainUntil = Date.now() + 120_000;
    let status = await readOutboxStatus(pool, table);
    while ((status.pending > 0 || status.failed > 0) && Date.now() < drainUntil) {
      await sleep(500);
      status = await readOutboxStatus(pool, table);
    }
    const expectedRows = (await pool.query<{ key: string; seq: string }>(`select key, seq from ${keySeq}`)).rows;
    const expected = new Map(expectedRows.filter((row) => Number(row.seq) > 0).map((row) => [row.key, Number(row.seq)]));
    const expectedCount = [...expected.values()].reduce((sum, count) => sum + count, 0);
    const records = await readTopic(kafka, registry, topic, (read) => new Set(read.map((record) => record.eventId)).size >= expectedCount, 120_000);
    const check = checkOrder(records, expected);
    const counters = {
      eventsLost: check.lost,
      duplicateEffects: check.duplicatesNewId + check.unexpected,
      orderViolations: check.orderViolations,
      commitsPastIncomplete: 0,
      stuckPartitions: status.pending + status.failed,
    };
    const passed = Object.values(counters).every((count) => count === 0) && expectedCount === committed && committed >= parameters.events && kills >= parameters.minKills;
    return {
      scenario: 'outbox-relay-sigkill',
      invariant: `${parameters.relays} outbox relays, one SIGKILLed every ${parameters.killIntervalMs / 1000} s: every committed event published once or more under one id, per key in commit order; rolled-back events never`,
      events: expectedCount,
      keys: expected.size,
      partitions: parameters.partitions,
      faults: { relaySigkills: kills, rolledBackEvents: rolledBack, writerFailures: writeFailures },
      counters,
      details: { committed, recordsRead: records.length, republishedSameId: check.duplicatesSameId, pendingLeft: status.pending, failedLeft: status.failed, table, topic },
      durationMs: Date.now() - startedAt,
      passed,
    };
  } finally {
    for (const relay of relays) if (relay.child.exitCode === null && relay.child.signalCode === null) relay.child.kill('SIGKILL');
    await Promise.all(relays.map((relay) => relay.exited));
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await pool.query(`drop table if exists ${keySeq}`).catch(() => undefined);
    await dropOutboxTable(pool, table).catch(() => undefined);
    await pool.end();
  }
}

await runAsMain(import.meta, (settings) => outboxRelaySigkillScenario(settings));
