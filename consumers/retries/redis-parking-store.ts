/**
 * {@link ParkingStore} on Redis: one hash per (group, source topic, partition), a field per parked key holding
 * its state as JSON, and beside it a small hash of the partition's owner token and a version counter. Every
 * write is one Lua script that checks the owner (when fenced) and the key's version before it writes, so a
 * compare-and-set is atomic without WATCH. With AOF on, the state survives a Redis restart.
 */
import type { Redis } from 'ioredis';
import type { ParkedKey, ParkedKeyEntry, ParkingStore, ParkingWriteResult } from './parking-store.ts';

/**
 * KEYS: the partition's hash, its meta hash. ARGV: field, expected version ('' = not parked, '*' = any), next
 * state as JSON without its version ('' = unpark), owner token ('' = not fenced). The written state carries the
 * partition's next version, unique even across an unpark and a new park of the key.
 */
const updateScript = `
if ARGV[4] ~= '' and redis.call('HGET', KEYS[2], 'owner') ~= ARGV[4] then return 'fenced' end
if ARGV[2] ~= '*' then
  local current = redis.call('HGET', KEYS[1], ARGV[1])
  local version = ''
  if current then
    local ok, state = pcall(cjson.decode, current)
    version = '0'
    if ok and type(state) == 'table' and type(state.version) == 'number' then version = string.format('%d', state.version) end
  end
  if version ~= ARGV[2] then return 'conflict' end
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'ok'
end
local version = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('HSET', KEYS[1], ARGV[1], string.sub(ARGV[3], 1, -2) .. ',"version":' .. version .. '}')
return 'ok'
`;

interface ScriptedRedis {
  orderlyParkingUpdate(hash: string, meta: string, field: string, expected: string, next: string, owner: string): Promise<ParkingWriteResult>;
}

function scripted(redis: Redis): ScriptedRedis {
  if (!('orderlyParkingUpdate' in redis)) redis.defineCommand('orderlyParkingUpdate', { numberOfKeys: 2, lua: updateScript });
  return redis as unknown as ScriptedRedis;
}

export class RedisParkingStore implements ParkingStore {
  private readonly redis: Redis;
  private readonly scripts: ScriptedRedis;
  private readonly prefix: string;
  private readonly metaPrefix: string;

  constructor({ redis, groupId, keyPrefix = 'orderly' }: { redis: Redis; groupId: string; keyPrefix?: string }) {
    this.redis = redis;
    this.scripts = scripted(redis);
    this.prefix = `${keyPrefix}:${groupId}:parked`;
    this.metaPrefix = `${keyPrefix}:${groupId}:parked-meta`;
  }

  private hashOf(topic: string, partition: number): string {
    return `${this.prefix}:${topic}:${partition}`;
  }

  private metaOf(topic: string, partition: number): string {
    return `${this.metaPrefix}:${topic}:${partition}`;
  }

  async load(topic: string, partition: number): Promise<Map<string, ParkedKey>> {
    const fields = await this.redis.hgetall(this.hashOf(topic, partition));
    return new Map(Object.entries(fields).map(([key, json]) => [key, parse(json)]));
  }

  async get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined> {
    const json = await this.redis.hget(this.hashOf(topic, partition), key);
    return json === null ? undefined : parse(json);
  }

  async own(topic: string, partition: number, owner: string): Promise<void> {
    await this.redis.hset(this.metaOf(topic, partition), 'owner', owner);
  }

  update(topic: string, partition: number, key: string, expected: ParkedKey | undefined, next: ParkedKey | undefined, owner = ''): Promise<ParkingWriteResult> {
    return this.write(topic, partition, key, expected === undefined ? '' : String(expected.version ?? 0), next, owner);
  }

  async put(topic: string, partition: number, key: string, state: ParkedKey): Promise<void> {
    await this.write(topic, partition, key, '*', state, '');
  }

  async remove(topic: string, partition: number, key: string): Promise<void> {
    await this.write(topic, partition, key, '*', undefined, '');
  }

  private write(topic: string, partition: number, key: string, expected: string, next: ParkedKey | undefined, owner: string): Promise<ParkingWriteResult> {
    return this.scripts.orderlyParkingUpdate(this.hashOf(topic, partition), this.metaOf(topic, partition), key, expected, next ? serialize(next) : '', owner);
  }

  async list(topic?: string): Promise<ParkedKeyEntry[]> {
    const entries: ParkedKeyEntry[] = [];
    const pattern = `${this.prefix}:${topic ?? '*'}:*`;
    let cursor = '0';
    do {
      const [next, hashes] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      cursor = next;
      for (const hash of hashes) {
        const rest = hash.slice(this.prefix.length + 1);
        const separator = rest.lastIndexOf(':');
        const hashTopic = rest.slice(0, separator);
        const partition = Number(rest.slice(separator + 1));
        for (const [key, json] of Object.entries(await this.redis.hgetall(hash))) {
          entries.push({ topic: hashTopic, partition, key, state: parse(json) });
        }
      }
    } while (cursor !== '0');
    return entries.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.key.localeCompare(b.key));
  }
}

/** The state as JSON without its version (the script adds the next one). */
function serialize(state: ParkedKey): string {
  const { queue, headTier, held, parkedAt, headDueAt, offsets, replaying, replayLock } = state;
  return JSON.stringify({
    queue,
    headTier,
    held,
    parkedAt,
    ...(typeof headDueAt === 'number' && Number.isFinite(headDueAt) ? { headDueAt } : {}),
    ...(offsets && Object.keys(offsets).length > 0 ? { offsets } : {}),
    ...(replaying && replaying.length > 0 ? { replaying } : {}),
    ...(replayLock ? { replayLock: { holder: replayLock.holder, expiresAt: replayLock.expiresAt } } : {}),
  });
}

function parse(json: string): ParkedKey {
  const value = JSON.parse(json) as Partial<ParkedKey>;
  const state: ParkedKey = {
    queue: Array.isArray(value.queue) ? value.queue.filter((id): id is string => typeof id === 'string') : [],
    headTier: typeof value.headTier === 'number' ? value.headTier : 1,
    held: value.held === true,
    parkedAt: typeof value.parkedAt === 'number' ? value.parkedAt : 0,
    version: typeof value.version === 'number' ? value.version : 0,
  };
  if (typeof value.headDueAt === 'number' && Number.isFinite(value.headDueAt)) state.headDueAt = value.headDueAt;
  if (value.offsets && typeof value.offsets === 'object' && !Array.isArray(value.offsets)) {
    const offsets: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [id, offset] of Object.entries(value.offsets)) if (typeof offset === 'string') offsets[id] = offset;
    state.offsets = offsets;
  }
  if (Array.isArray(value.replaying)) state.replaying = value.replaying.filter((id): id is string => typeof id === 'string');
  const lock = value.replayLock;
  if (lock && typeof lock.holder === 'string' && typeof lock.expiresAt === 'number') state.replayLock = { holder: lock.holder, expiresAt: lock.expiresAt };
  return state;
}
