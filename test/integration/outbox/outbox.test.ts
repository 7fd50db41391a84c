/**
 * The transactional outbox on the real stack (PostgreSQL, registry, Kafka): a rolled-back transaction publishes
 * nothing; a bad event fails the business transaction; per key the rows follow the commit order and a long
 * transaction holds back only its own keys; a row whose topic does not exist is marked failed, blocks only its
 * key and is published after a requeue; a relay SIGKILLed between publish and mark-sent is followed by a
 * republish with the same event ids and nothing else.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { OutboxRelay, OutboxWriter, readOutboxStatus, requeueFailedRows, createOutboxTables, type RelayedEvent } from '../../../outbox/index.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { outboxKeyHash, outboxShardOf } from '../../../outbox/key-hash.ts';
import { outboxShardCount } from '../../../outbox/outbox-table.ts';
import { checkOrder, dropOutboxTable, outboxProbeSchema, readTopic, uniqueOutboxTable } from '../../support/outbox-harness.ts';
import { createTestTopic, testAdmin, testKafka, testStack, uniqueName } from '../../support/test-stack.ts';

let pool: pg.Pool;
let registry: SchemaRegistryClient;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 12 });
  registry = new SchemaRegistryClient({ url: testStack().settings.SCHEMA_REGISTRY_URL! });
});

afterAll(async () => {
  await pool.end();
});

async function outboxTable(): Promise<string> {
  const table = uniqueOutboxTable();
  const client = await pool.connect();
  try {
    await createOutboxTables(client, table);
  } finally {
    client.release();
  }
  onTestFinished(() => dropOutboxTable(pool, table));
  return table;
}

function startRelay(table: string, extra: { onPublished?: (events: readonly RelayedEvent[]) => void; batchSize?: number; pollIntervalMs?: number; listen?: boolean; retentionMs?: number; concurrency?: number; shardsPerClaim?: number } = {}): OutboxRelay {
  const kafka = testKafka();
  const producer = new EventProducer({ kafka, registry });
  const { listen = true, ...rest } = extra;
  const relay = new OutboxRelay({ pool, producer, kafka, table, ...(listen ? { listenConnectionString: testStack().settings.DATABASE_URL } : {}), pollIntervalMs: 300, statusIntervalMs: 500, ...rest });
  onTestFinished(async () => {
    await relay.stop();
    await producer.close({ timeoutMs: 5_000 });
  });
  return relay;
}

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>, outcome: 'commit' | 'rollback' = 'commit'): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query(outcome);
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const probe = (key: string, sequence: number, topic: string) => ({ topic, key, schema: outboxProbeSchema, event: { key, sequence } });

async function recordsIn(topic: string): Promise<number> {
  const admin = await testAdmin();
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0);
}

describe('transactional outbox', () => {
  it('publishes the events of a committed transaction with the ids the writer gave, and nothing of a rolled-back one', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 3, prefix: 'outbox' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    await inTransaction((client) => writer.addAll(client, [probe('a', 1, topic), probe('b', 1, topic)]), 'rollback');
    const committed = await inTransaction((client) => writer.addAll(client, [probe('a', 1, topic), probe('a', 2, topic), probe('b', 1, topic)]));
    expect(new Set(committed.map((receipt) => receipt.eventId)).size).toBe(3);
    for (const { eventId } of committed) expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const published: RelayedEvent[] = [];
    const relay = startRelay(table, { onPublished: (events) => published.push(...events) });
    await relay.start();
    await waitFor('3 events published', () => published.length >= 3);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 3, 30_000);
    expect(records.map((record) => record.eventId).sort()).toEqual(committed.map((receipt) => receipt.eventId).sort());
    expect(records.every((record) => record.eventType === 'orderly.test.OutboxProbe')).toBe(true);
    expect(checkOrder(records, new Map([['a', 2], ['b', 1]]))).toEqual({ lost: 0, duplicatesSameId: 0, duplicatesNewId: 0, orderViolations: 0, unexpected: 0 });
    // Nothing more arrives (the rolled-back rows were never in the table), and sent rows are deleted (retention 0).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await recordsIn(topic)).toBe(3);
    expect((await readOutboxStatus(pool, table)).pending).toBe(0);
    expect(Number((await pool.query(`select count(*) as n from ${table}`)).rows[0].n)).toBe(0);
  });

  it('fails the business transaction on a bad event: an invalid value, an unregistered schema, a missing key', async () => {
    const table = await outboxTable();
    const topic = uniqueName('outbox-unregistered');
    const strict = new OutboxWriter({ registry, table, autoRegister: false });
    const lenient = new OutboxWriter({ registry, table, autoRegister: true });
    await expect(inTransaction((client) => strict.add(client, probe('a', 1, topic)))).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY' });
    await expect(inTransaction((client) => lenient.add(client, { topic, key: 'a', schema: outboxProbeSchema, event: { key: 'a', sequence: 'one' } }))).rejects.toMatchObject({ code: 'ENCODE' });
    await expect(inTransaction((client) => lenient.add(client, probe('', 1, topic)))).rejects.toMatchObject({ code: 'MISSING_KEY' });
    expect(Number((await pool.query(`select count(*) as n from ${table}`)).rows[0].n)).toBe(0);
  });

  it('orders a key by commit: a second writer of the key waits for the first; a long transaction holds back only its own keys', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 1, prefix: 'outbox-order' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const published: RelayedEvent[] = [];
    const relay = startRelay(table, { onPublished: (events) => published.push(...events) });
    await relay.start();

    const long = await pool.connect();
    const second = await pool.connect();
    onTestFinished(() => {
      long.release();
      second.release();
    });
    await long.query('begin');
    await writer.add(long, probe('held', 1, topic));
    // A second transaction writing the same key waits for the first to end.
    await second.query('begin');
    let secondAdded = false;
    const adding = writer.add(second, probe('held', 2, topic)).then(() => (secondAdded = true));
    // Meanwhile other keys go through, though their rows come after the open transaction's.
    await inTransaction((client) => writer.add(client, probe('free', 1, topic)));
    await waitFor('the free key published while the long transaction is open', () => published.length >= 1);
    expect(published).toHaveLength(1);
    expect(secondAdded).toBe(false);
    await long.query('commit');
    await adding;
    await second.query('commit');
    await waitFor('all three published', () => published.length >= 3);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 3, 30_000);
    expect(records.map((record) => `${record.value.key}#${record.value.sequence}`)).toEqual(['free#1', 'held#1', 'held#2']);
  });

  it('marks a row whose topic does not exist failed, publishes the other keys, keeps its key blocked without spinning, and publishes it after a requeue', async () => {
    const table = await outboxTable();
    const good = await createTestTopic({ partitions: 1, prefix: 'outbox-good' });
    const missing = uniqueName('outbox-missing');
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const published: RelayedEvent[] = [];
    const relay = startRelay(table, { onPublished: (events) => published.push(...events) });
    await inTransaction((client) => writer.addAll(client, [probe('lost', 1, missing), probe('fine', 1, good), probe('lost', 2, missing)]));
    await relay.start();
    await waitFor('the good topic published', () => published.length >= 1);
    const failedStatus = await waitFor('rows marked failed', async () => {
      const status = await readOutboxStatus(pool, table);
      return status.failed >= 1 ? status : undefined;
    });
    expect(failedStatus.failures[0]).toMatchObject({ topic: missing });
    expect(failedStatus.failures[0]!.reason).toContain('topic-missing');
    // A later row of the blocked key stays pending: not published ahead, not retried in a loop.
    await inTransaction((client) => writer.add(client, probe('lost', 3, missing)));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const metrics = await relay.metrics.registry.getMetricsAsJSON();
    const claimFailures = metrics.find((metric) => metric.name === 'orderly_outbox_claim_failures_total')!.values.reduce((sum, value) => sum + value.value, 0);
    expect(claimFailures).toBe(0);
    const blocked = await readOutboxStatus(pool, table);
    expect(blocked.pending + blocked.failed).toBe(3);
    expect(published).toHaveLength(1);
    expect((await relay.metrics.registry.getSingleMetric('orderly_outbox_failed_rows')!.get()).values[0]?.value).toBe(blocked.failed);

    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic: missing, numPartitions: 1 }], waitForLeaders: true });
    onTestFinished(() => admin.deleteTopics({ topics: [missing] }).then(() => undefined, () => undefined));
    expect(await requeueFailedRows(pool, table, missing)).toBe(blocked.failed);
    await waitFor('the requeued rows published', () => published.length >= 4);
    const records = await readTopic(testKafka(), registry, missing, (read) => read.length >= 3, 30_000);
    expect(records.map((record) => record.value.sequence)).toEqual([1, 2, 3]);
  });

  it('after a relay is SIGKILLed between publish and mark-sent, the next relay republishes those events with the same ids, and nothing is lost', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 3, prefix: 'outbox-kill' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const keys = Array.from({ length: 10 }, (_, index) => `k${index}`);
    const entries = keys.flatMap((key) => [1, 2, 3, 4, 5].map((sequence) => probe(key, sequence, topic)));
    const receipts = await inTransaction((client) => writer.addAll(client, entries));

    const { settings } = testStack();
    const child = spawn(process.execPath, ['test/support/workers/outbox-relay-process.ts'], {
      env: { ...process.env, DATABASE_URL: settings.DATABASE_URL, KAFKA_BROKERS: settings.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: settings.SCHEMA_REGISTRY_URL, OUTBOX_TABLE: table, OUTBOX_KILL_AFTER_PUBLISH: '1', OUTBOX_BATCH_SIZE: '20' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let killedAfter: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('published ')) killedAfter = line.split(' ')[2]!.split(',');
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    expect(exit.signal).toBe('SIGKILL');
    expect(killedAfter).toHaveLength(20);
    // Its transaction rolled back: every row is still pending.
    await waitFor('the killed relay\'s transaction rolled back', async () => ((await readOutboxStatus(pool, table)).pending === 50 ? true : undefined), 30_000);
    expect(await recordsIn(topic)).toBe(20);

    const published: RelayedEvent[] = [];
    const relay = startRelay(table, { onPublished: (events) => published.push(...events) });
    await relay.start();
    await waitFor('all 50 published by the second relay', () => published.length >= 50);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 70, 30_000);
    expect(records).toHaveLength(70);
    const ids = new Set(receipts.map((receipt) => receipt.eventId));
    expect(records.every((record) => ids.has(record.eventId))).toBe(true);
    const counts = new Map<string, number>();
    for (const record of records) counts.set(record.eventId, (counts.get(record.eventId) ?? 0) + 1);
    expect([...counts.entries()].filter(([, count]) => count === 2).map(([id]) => id).sort()).toEqual([...killedAfter].sort());
    expect(checkOrder(records, new Map(keys.map((key) => [key, 5])))).toEqual({ lost: 0, duplicatesSameId: 20, duplicatesNewId: 0, orderViolations: 0, unexpected: 0 });
  });

  it('wakes up on NOTIFY at commit, falls back to polling when LISTEN is off, and keeps publishing after its LISTEN connection is killed', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 1, prefix: 'outbox-wake' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const published: RelayedEvent[] = [];
    // Polling once a minute: a publish within seconds came from the NOTIFY.
    const listening = startRelay(table, { onPublished: (events) => published.push(...events), pollIntervalMs: 60_000 });
    await listening.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // its loops are idle now, waiting
    await inTransaction((client) => writer.add(client, probe('w', 1, topic)));
    await waitFor('the NOTIFY woke the relay', () => published.length >= 1, 15_000);

    // Its LISTEN connection dies: the relay polls (every 60 s here) and reconnects; a new row still goes out.
    const listeners = async () => (await pool.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'orderly-outbox-listen' and query like $1`, [`%${table}%`])).rows.map((row) => row.pid);
    const [first] = await listeners();
    expect(first).toBeDefined();
    await pool.query('select pg_terminate_backend($1)', [first]);
    await waitFor('LISTEN reconnected on a new connection', async () => ((await listeners()).some((pid) => pid !== first) ? true : undefined), 30_000);
    await inTransaction((client) => writer.add(client, probe('w', 2, topic)));
    await waitFor('published after the reconnect', () => published.length >= 2, 15_000);
    await listening.stop();

    // No LISTEN at all: polling alone.
    const polling = startRelay(table, { onPublished: (events) => published.push(...events), listen: false, pollIntervalMs: 500 });
    await polling.start();
    await inTransaction((client) => writer.add(client, probe('w', 3, topic)));
    await waitFor('the poll found the row', () => published.length >= 3, 15_000);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 3, 30_000);
    expect(records.map((record) => record.value.sequence)).toEqual([1, 2, 3]);
  });

  it('keeps sent rows with their partition and offset for the retention, then sweeps them', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 2, prefix: 'outbox-retention' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const published: RelayedEvent[] = [];
    const relay = startRelay(table, { onPublished: (events) => published.push(...events), retentionMs: 3_000 });
    await relay.start();
    const receipts = await inTransaction((client) => writer.addAll(client, [probe('r', 1, topic), probe('s', 1, topic), probe('r', 2, topic)]));
    await waitFor('3 published', () => published.length >= 3);
    const kept = await pool.query<{ event_id: string; published_partition: number; published_offset: string }>(`select event_id, published_partition, published_offset from ${table} where state = 1 order by id`);
    expect(kept.rows.map((row) => row.event_id)).toEqual(receipts.map((receipt) => receipt.eventId));
    for (const row of kept.rows) {
      const event = published.find((candidate) => candidate.eventId === row.event_id)!;
      expect({ partition: row.published_partition, offset: String(row.published_offset) }).toEqual({ partition: event.partition, offset: event.offset });
    }
    expect((await readOutboxStatus(pool, table)).sentKept).toBe(3);
    await waitFor('the sweep deleted the sent rows', async () => (Number((await pool.query(`select count(*) as n from ${table}`)).rows[0].n) === 0 ? true : undefined), 30_000);
  });

  it('reads the next batch while one is in flight without letting a key\'s later row overtake an earlier one that committed meanwhile', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 1, prefix: 'outbox-ahead' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    // The relay's connections hold back its second read of rows (the batch read ahead) until the gate opens.
    const relayPool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 4 });
    onTestFinished(() => relayPool.end());
    let reads = 0;
    let heldBack!: () => void;
    const readAheadReached = new Promise<void>((resolve) => (heldBack = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const connect = relayPool.connect.bind(relayPool) as (callback?: unknown) => Promise<pg.PoolClient>;
    const wrapped = new WeakSet<pg.PoolClient>();
    (relayPool as unknown as { connect: (callback?: unknown) => unknown }).connect = async (callback?: unknown) => {
      if (callback) return connect(callback);
      const client = await connect();
      if (wrapped.has(client)) return client;
      wrapped.add(client);
      const query = client.query.bind(client) as (...params: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...params: unknown[]) => Promise<unknown> }).query = async (...params: unknown[]) => {
        const text = typeof params[0] === 'string' ? params[0] : '';
        if (/\bfetch\b|from \S+ o\b/i.test(text) && ++reads === 2) {
          heldBack();
          await gate;
        }
        return query(...params);
      };
      return client;
    };

    // Ids 1-5 committed (f0 in j's shard, so the claim holds that shard); id 6 (key j, first event) drawn by a
    // transaction still open; ids 7-16 committed.
    const shardOf = (key: string) => outboxShardOf(outboxKeyHash(topic, Buffer.from(key)), outboxShardCount);
    const f0 = Array.from({ length: 1_000 }, (_, index) => `f${index}`).find((key) => shardOf(key) === shardOf('j'))!;
    const filler = [f0, 'f1001', 'f1002', 'f1003', 'f1004'];
    await inTransaction((client) => writer.addAll(client, filler.map((key) => probe(key, 1, topic))));
    const long = await pool.connect();
    onTestFinished(() => long.release());
    await long.query('begin');
    await writer.add(long, probe('j', 1, topic));
    await inTransaction((client) => writer.addAll(client, ['g0', 'g1', 'g2', 'g3', 'g4', 'h0', 'h1', 'h2', 'h3', 'h4'].map((key) => probe(key, 1, topic))));

    const kafka = testKafka();
    const producer = new EventProducer({ kafka, registry });
    const published: RelayedEvent[] = [];
    // One claim of every shard, batches of 10: the first batch is ids 1-5 and 7-11, and it is full, so the claim reads ahead.
    const relay = new OutboxRelay({ pool: relayPool, producer, kafka, table, batchSize: 10, shardsPerClaim: 64, concurrency: 1, pollIntervalMs: 300, statusIntervalMs: 500, onPublished: (events) => published.push(...events) });
    onTestFinished(async () => {
      await relay.stop();
      await producer.close({ timeoutMs: 5_000 });
    });
    await relay.start();
    await readAheadReached;
    // While the first batch is out and the next read is held: j's first event commits, then its second one.
    await long.query('commit');
    await inTransaction((client) => writer.add(client, probe('j', 2, topic)));
    openGate();

    await waitFor('17 events published', () => published.length >= 17);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 17, 30_000);
    const expected = new Map([...[...filler, 'g0', 'g1', 'g2', 'g3', 'g4', 'h0', 'h1', 'h2', 'h3', 'h4'].map((key) => [key, 1] as [string, number]), ['j', 2]]);
    expect(checkOrder(records, expected)).toEqual({ lost: 0, duplicatesSameId: 0, duplicatesNewId: 0, orderViolations: 0, unexpected: 0 });
    expect(records.filter((record) => record.key === 'j').map((record) => record.value.sequence)).toEqual([1, 2]);
  });

  it('keeps a key\'s rows read ahead pending behind its row the broker refused in an earlier batch of the claim', async () => {
    const table = await outboxTable();
    const topic = uniqueName('outbox-refused');
    const admin = await testAdmin();
    // Records over 4 KB are refused by this topic for good (MESSAGE_TOO_LARGE).
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }], waitForLeaders: true });
    onTestFinished(() => admin.deleteTopics({ topics: [topic] }).then(() => undefined, () => undefined));
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    await inTransaction((client) => writer.addAll(client, [
      { ...probe('k', 1, topic), headers: { padding: 'x'.repeat(6_000) } },
      probe('x', 1, topic),
      probe('k', 2, topic),
      probe('y', 1, topic),
    ]));
    const published: RelayedEvent[] = [];
    // One claim of every shard, batches of 2: [k1, x] is refused, then published row by row (k1 refused, x
    // written) while [k2, y] is read ahead; k2 must stay pending behind k1.
    const relay = startRelay(table, { batchSize: 2, shardsPerClaim: 64, concurrency: 1, onPublished: (events) => published.push(...events) });
    await relay.start();
    await waitFor('x and y published', () => published.length >= 2);
    const status = await waitFor('k1 marked failed', async () => {
      const current = await readOutboxStatus(pool, table);
      return current.failed === 1 ? current : undefined;
    });
    expect(status.failures[0]!.reason).toContain('rejected');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await readOutboxStatus(pool, table)).pending).toBe(1);
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 2, 10_000);
    expect(records.map((record) => `${record.key}${record.value.sequence}`).sort()).toEqual(['x1', 'y1']);
  });

  it('adds the (shard, id) index of pending rows to a table created without it', async () => {
    const table = await outboxTable();
    const index = `${table}_pending_shard`;
    const present = async () => (await pool.query<{ present: string | null }>('select to_regclass($1) as present', [index])).rows[0]!.present;
    expect(await present()).toBe(index);
    await pool.query(`drop index ${index}`);
    expect(await present()).toBeNull();
    const client = await pool.connect();
    try {
      await createOutboxTables(client, table);
    } finally {
      client.release();
    }
    expect(await present()).toBe(index);
  });

  it('publishes each row once with several claims at once while writers commit (no kill, so no republish)', async () => {
    const table = await outboxTable();
    const topic = await createTestTopic({ partitions: 3, prefix: 'outbox-claims' });
    const writer = new OutboxWriter({ registry, table, autoRegister: true });
    const times = new Map<string, number>();
    let total = 0;
    // Small batches and few shards per claim: claims hand shards over to each other all the time.
    const relay = startRelay(table, { concurrency: 4, batchSize: 20, onPublished: (events) => events.forEach((event) => (total++, times.set(event.eventId, (times.get(event.eventId) ?? 0) + 1))) });
    await relay.start();
    const sequence = new Map<string, number>();
    await Promise.all(
      [0, 1, 2].map(async (writerIndex) => {
        for (let transaction = 0; transaction < 40; transaction++) {
          await inTransaction((client) => writer.addAll(client, Array.from({ length: 10 }, (_, index) => {
            const key = `w${writerIndex}-k${(transaction * 10 + index) % 30}`;
            sequence.set(key, (sequence.get(key) ?? 0) + 1);
            return probe(key, sequence.get(key)!, topic);
          })));
        }
      }),
    );
    await waitFor('1,200 published', () => times.size >= 1_200);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect({ total, unique: times.size }).toEqual({ total: 1_200, unique: 1_200 });
    const records = await readTopic(testKafka(), registry, topic, (read) => read.length >= 1_200, 30_000);
    expect(checkOrder(records, sequence)).toEqual({ lost: 0, duplicatesSameId: 0, duplicatesNewId: 0, orderViolations: 0, unexpected: 0 });
  });
});
