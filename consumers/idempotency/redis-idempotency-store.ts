/**
 * {@link IdempotencyStore} on Redis (ioredis). Each operation is one Lua script, so a claim, a completion or a
 * release is atomic; ioredis auto-pipelining sends the calls of concurrent handlers in shared round trips.
 * Keys: `<prefix>:<group>:claim:<eventId>` (the lease, value = fencing token) and
 * `<prefix>:<group>:done:<eventId>` (the payload hash, prefixed `dlt:` for a dead-lettered event, kept
 * `doneTtlMs`).
 */
import type { Redis } from 'ioredis';
import type { ClaimRequest, ClaimResult, IdempotencyStore } from './idempotency-store.ts';

const claimScript = `
local done = redis.call('GET', KEYS[2])
if done then
  if done == ARGV[2] or done == 'dlt:' .. ARGV[2] then return {'done'} else return {'conflict'} end
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX') then return {'claimed'} end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
return {'busy', redis.call('PTTL', KEYS[1])}
`;

const completeScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1
`;

const forgetScript = `
local done = redis.call('GET', KEYS[1])
if done and string.sub(done, 1, 4) == 'dlt:' then return redis.call('DEL', KEYS[1]) end
return 0
`;

const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface RedisIdempotencyStoreOptions {
  redis: Redis;
  groupId: string;
  /** @defaultValue `'orderly'` */
  keyPrefix?: string;
  /** How long a done marker is kept. @defaultValue 7 days, in ms */
  doneTtlMs?: number;
}

/** The scripts, defined once per client so calls send EVALSHA (ioredis reloads a script Redis forgot). */
interface ScriptedRedis {
  orderlyClaim(claimKey: string, doneKey: string, token: string, hash: string, leaseMs: number): Promise<[string, number?]>;
  orderlyComplete(claimKey: string, doneKey: string, token: string, hash: string, ttlMs: number): Promise<number>;
  orderlyRelease(claimKey: string, token: string): Promise<number>;
  orderlyForget(doneKey: string): Promise<number>;
}

function scripted(redis: Redis): ScriptedRedis {
  if (!('orderlyClaim' in redis)) {
    redis.defineCommand('orderlyClaim', { numberOfKeys: 2, lua: claimScript });
    redis.defineCommand('orderlyComplete', { numberOfKeys: 2, lua: completeScript });
    redis.defineCommand('orderlyRelease', { numberOfKeys: 1, lua: releaseScript });
    redis.defineCommand('orderlyForget', { numberOfKeys: 1, lua: forgetScript });
  }
  return redis as unknown as ScriptedRedis;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly doneTtlMs: number;

  constructor({ redis, groupId, keyPrefix = 'orderly', doneTtlMs = 7 * 24 * 3600 * 1000 }: RedisIdempotencyStoreOptions) {
    this.redis = scripted(redis);
    // A hash tag keeps an event's two keys in one Redis Cluster slot.
    this.prefix = `${keyPrefix}:${groupId}`;
    this.doneTtlMs = doneTtlMs;
  }

  private keys(eventId: string): [string, string] {
    return [`${this.prefix}:claim:{${eventId}}`, `${this.prefix}:done:{${eventId}}`];
  }

  async claim({ eventId, payloadHash, fencingToken, leaseMs }: ClaimRequest): Promise<ClaimResult> {
    const [status, ttl] = await this.redis.orderlyClaim(...this.keys(eventId), fencingToken, payloadHash, leaseMs);
    switch (status) {
      case 'claimed':
        return { status, token: fencingToken };
      case 'done':
      case 'conflict':
        return { status };
      default:
        return { status: 'busy', retryAfterMs: Math.max(ttl ?? 0, 10) };
    }
  }

  async complete(eventId: string, token: string, payloadHash: string, outcome = { deadLettered: false }): Promise<'completed' | 'fenced'> {
    const marker = outcome.deadLettered ? `dlt:${payloadHash}` : payloadHash;
    const result = await this.redis.orderlyComplete(...this.keys(eventId), token, marker, this.doneTtlMs);
    return result === 1 ? 'completed' : 'fenced';
  }

  async forgetDeadLettered(eventId: string): Promise<boolean> {
    return (await this.redis.orderlyForget(this.keys(eventId)[1])) === 1;
  }

  async release(eventId: string, token: string): Promise<void> {
    await this.redis.orderlyRelease(this.keys(eventId)[0], token);
  }
}
