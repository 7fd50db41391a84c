/**
 * Handlers that emit, on the real stack: a chain A -> B -> C (two steps that `context.emit`, then an effect
 * through the PostgreSQL inbox), each step in its own processes, with members SIGKILLed mid-chain and replaced.
 * Every source event gives exactly one effect at the end, under the id derived through both steps, and each
 * key's effects come in its source order. Repeats are expected upstream (a killed member's uncommitted events
 * are handled again and emit again, under the same ids); the steps downstream drop them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { emittedEventId } from '../../../consumers/emit/attempt-emits.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka, testStack, uniqueName } from '../../support/test-stack.ts';
import { testRegistry } from '../schemas/registry-helpers.ts';
import { chainStepSchema, type ChainStep } from '../../support/workers/chain-worker.ts';

const total = 3_000;
const keys = 60;

interface Chain {
  a: string;
  b: string;
  c: string;
  groups: { ab: string; bc: string; effect: string };
  table: string;
  pool: pg.Pool;
}

function startMember(chain: Chain, stage: 'ab' | 'bc' | 'effect', member: string): ChildProcess {
  const { settings } = testStack();
  const env =
    stage === 'ab'
      ? { STAGE: 'emit', FROM_TOPIC: chain.a, TO_TOPIC: chain.b, GROUP: chain.groups.ab }
      : stage === 'bc'
        ? { STAGE: 'emit', FROM_TOPIC: chain.b, TO_TOPIC: chain.c, GROUP: chain.groups.bc }
        : { STAGE: 'effect', FROM_TOPIC: chain.c, GROUP: chain.groups.effect, EFFECTS_TABLE: chain.table };
  const child = spawn(process.execPath, ['test/support/workers/chain-worker.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...settings, ...env, MEMBER: member },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL') crashed.push(`${member} exited with ${code ?? signal}`);
  });
  onTestFinished(() => void child.kill('SIGKILL'));
  return child;
}

/** Members that ended without being killed (a crash or a refused configuration): the test fails at once. */
const crashed: string[] = [];

async function effects({ pool, table }: Chain): Promise<number> {
  const { rows } = await pool.query<{ count: string }>(`select count(*) from ${table}`);
  return Number(rows[0]!.count);
}

async function waitFor(predicate: () => Promise<boolean>, what: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  while (!(await predicate())) {
    if (crashed.length > 0) throw new Error(`a member ended on its own: ${crashed.join('; ')}`);
    if (process.env.CHAIN_DEBUG) console.log(`${Math.round((Date.now() - started) / 1000)} s waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function recordsIn(topic: string): Promise<number> {
  const offsets = await (await testAdmin()).fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

describe('handlers that emit: a chain A -> B -> C with members SIGKILLed mid-chain', () => {
  it('gives every source event exactly one effect at the end of the chain, under its derived id, in per-key order', { timeout: 420_000 }, async () => {
    const [a, b, c] = (await Promise.all(['chain-a', 'chain-b', 'chain-c'].map((prefix) => createTestTopic({ partitions: 4, prefix })))) as [string, string, string];
    const pool = new pg.Pool({ connectionString: testStack().settings.DATABASE_URL, max: 2 });
    const table = uniqueName('chain_effects').replaceAll('-', '_');
    await pool.query(`create table if not exists orderly_inbox (group_id text not null, event_id text not null, payload_hash text not null, handled_at timestamptz not null default now(), primary key (group_id, event_id))`).catch(() => undefined);
    await pool.query(`create table ${table} (applied bigserial primary key, event_id text not null, key text not null, sequence integer not null, member text not null)`);
    onTestFinished(async () => {
      await pool.query(`drop table if exists ${table}`);
      await pool.end();
    });
    const chain: Chain = { a, b, c, groups: { ab: testGroupId(), bc: testGroupId(), effect: testGroupId() }, table, pool };

    // The source events, each with an id of its own: `<key>#<sequence>`.
    const sources: ChainStep[] = Array.from({ length: total }, (_, index) => ({ key: `key-${index % keys}`, sequence: Math.floor(index / keys) + 1 }));
    const producer = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true, topic: a });
    try {
      for (let start = 0; start < total; start += 500) {
        await producer.publishBatch(sources.slice(start, start + 500).map((value) => ({ key: value.key, schema: chainStepSchema, value, eventId: `${value.key}#${value.sequence}` })));
      }
    } finally {
      await producer.close();
    }

    const killed: string[] = [];
    const kill = (child: ChildProcess, name: string) => {
      child.kill('SIGKILL');
      killed.push(name);
    };
    const ab1 = startMember(chain, 'ab', 'ab-1');
    const bc1 = startMember(chain, 'bc', 'bc-1');
    const effect1 = startMember(chain, 'effect', 'effect-1');
    await waitFor(async () => (await effects(chain)) >= total * 0.2, '20% of the effects');
    kill(ab1, 'ab-1');
    kill(bc1, 'bc-1');
    startMember(chain, 'ab', 'ab-2');
    const bc2 = startMember(chain, 'bc', 'bc-2');
    const before = await effects(chain);
    await waitFor(async () => (await effects(chain)) >= Math.max(total * 0.55, before + 100), '55% of the effects');
    kill(bc2, 'bc-2');
    kill(effect1, 'effect-1');
    startMember(chain, 'bc', 'bc-3');
    startMember(chain, 'effect', 'effect-2');
    await waitFor(async () => (await effects(chain)) >= total, `all ${total} effects`);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a late duplicate effect would land now

    const { rows } = await pool.query<{ event_id: string; key: string; sequence: number }>(`select event_id, key, sequence from ${table} order by applied`);
    const expectedIds = new Set(sources.map(({ key, sequence }) => emittedEventId(chain.groups.bc, emittedEventId(chain.groups.ab, `${key}#${sequence}`, 0), 0)));
    expect(rows).toHaveLength(total); // no duplicate effect
    expect(new Set(rows.map((row) => row.event_id))).toEqual(expectedIds); // each source's own derived id, none missing
    const lastOf = new Map<string, number>();
    const disorder = rows.filter(({ key, sequence }) => {
      const previous = lastOf.get(key) ?? 0;
      lastOf.set(key, sequence);
      return sequence !== previous + 1;
    });
    expect(disorder).toEqual([]);
    expect(killed).toEqual(['ab-1', 'bc-1', 'bc-2', 'effect-1']);
    const [inB, inC] = [await recordsIn(b), await recordsIn(c)];
    console.log(`emit chain: ${total} sources; ${inB} records in B, ${inC} in C (repeats emitted by restarted members, dropped downstream); ${killed.length} members SIGKILLed`);
    expect(inB).toBeGreaterThanOrEqual(total);
    expect(inC).toBeGreaterThanOrEqual(total);
  });
});
