/**
 * What the Redis idempotency store costs per event on its success path, alone: claim then complete fresh
 * events through `RedisIdempotencyStore`, `--batch` at a time (one claim script call and one completion call
 * per batch, as the consumer's claims ahead send them), and the Redis time of those script calls per event
 * (`INFO commandstats` before and after: exact on a Redis of its own, other clients' scripts included on a
 * shared one). Several store modules (e.g. a copy of another commit's `redis-idempotency-store.ts` placed inside
 * the checkout, so `ioredis` resolves) are run alternately, `--runs` times each.
 * Usage: node bench/support/idempotency-store-cost.ts [--events 100000] [--batch 256] [--runs 3]
 *   [--redis redis://127.0.0.1:6379] [--store path.ts]... (default: this checkout's store)
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { RedisIdempotencyStore as Store, RedisIdempotencyStoreOptions } from '../../consumers/idempotency/redis-idempotency-store.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    store: { type: 'string', multiple: true, default: ['consumers/idempotency/redis-idempotency-store.ts'] },
  },
});
const events = Number(values.events);
const batch = Number(values.batch);

type StoreClass = new (options: RedisIdempotencyStoreOptions) => Store;
// A client per store: each module defines its scripts on its client under the same command names.
const stores = await Promise.all(
  values.store.map(async (path) => ({
    path,
    Store: ((await import(pathToFileURL(resolve(path)).href)) as { RedisIdempotencyStore: StoreClass }).RedisIdempotencyStore,
    client: new Redis(values.redis, { enableAutoPipelining: true }),
  })),
);
const redis = new Redis(values.redis);

/** Per command (GET, SET, DEL, EVALSHA...) its calls and µs, from `INFO commandstats`, and the bytes Redis read (`net`). */
async function commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (match) stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  const input = /total_net_input_bytes:(\d+)/.exec(await redis.info('stats'));
  stats.set('net', { calls: Number(input?.[1] ?? 0), usec: 0 });
  return stats;
}

async function runOnce({ Store, client }: (typeof stores)[number], run: number): Promise<{ microsPerEvent: number; redisMicrosPerEvent: number; commandsPerEvent: Record<string, number> }> {
  // Markers expire a minute later: the shared Redis is not left holding the run's keys.
  const store = new Store({ redis: client, groupId: `store-cost-${process.pid}-${run}-${Date.now()}`, doneTtlMs: 60_000 });
  const before = await commandStats();
  const startedAt = performance.now();
  for (let first = 0; first < events; first += batch) {
    const ids = Array.from({ length: Math.min(batch, events - first) }, (_, index) => `e-${first + index}`);
    const claims = await Promise.all(ids.map((eventId) => store.claim({ eventId, payloadHash: `h${eventId}`, fencingToken: 'member/1#1', leaseMs: 60_000 })));
    if (claims.some((claim) => claim.status !== 'claimed')) throw new Error('a fresh event was not claimed');
    const completed = await Promise.all(ids.map((eventId) => store.complete(eventId, 'member/1#1', `h${eventId}`)));
    if (completed.some((result) => result !== 'completed')) throw new Error('a claimed event was not completed');
  }
  const microsPerEvent = ((performance.now() - startedAt) * 1000) / events;
  const after = await commandStats();
  const delta = (name: string, field: 'calls' | 'usec') => (after.get(name)?.[field] ?? 0) - (before.get(name)?.[field] ?? 0);
  const scripts = ['evalsha', 'eval'].reduce((sum, name) => sum + delta(name, 'usec'), 0);
  const commandsPerEvent = Object.fromEntries(['get', 'set', 'del', 'evalsha'].map((name) => [name, Number((delta(name, 'calls') / events).toFixed(3))]));
  commandsPerEvent.bytesSent = Math.round(delta('net', 'calls') / events);
  return { microsPerEvent, redisMicrosPerEvent: scripts / events, commandsPerEvent };
}

console.log(`load average at start: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
const results = new Map<string, { wall: number[]; redis: number[] }>(stores.map(({ path }) => [path, { wall: [], redis: [] }]));
for (const store of stores) await runOnce(store, -1); // warm-up: scripts loaded, JIT
for (let run = 0; run < Number(values.runs); run++) {
  for (const store of stores) {
    const { path } = store;
    const result = await runOnce(store, run);
    results.get(path)!.wall.push(result.microsPerEvent);
    results.get(path)!.redis.push(result.redisMicrosPerEvent);
    console.log(`run ${run + 1} ${path}: ${result.microsPerEvent.toFixed(2)} µs per event, Redis scripts ${result.redisMicrosPerEvent.toFixed(2)} µs, commands per event ${JSON.stringify(result.commandsPerEvent)}, load ${loadavg()[0]!.toFixed(2)}`);
  }
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
for (const [path, { wall, redis: script }] of results) {
  console.log(`${path}: median ${median(wall).toFixed(2)} µs per event (${Math.min(...wall).toFixed(2)}–${Math.max(...wall).toFixed(2)}), Redis scripts median ${median(script).toFixed(2)} µs (${Math.min(...script).toFixed(2)}–${Math.max(...script).toFixed(2)})`);
}
console.log(`load average at end: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
await Promise.all([redis, ...stores.map(({ client }) => client)].map((client) => client.quit()));
