/**
 * {@link IdempotencyStore} on Redis (ioredis). Each operation is one Lua script, so a claim, a completion or a
 * release is atomic; ioredis auto-pipelining sends the calls of concurrent handlers in shared round trips.
 * Claims and completions asked for in one turn of the event loop (the records of one batch) go to Redis in
 * one script call for all of them, each event still atomic on its own; on a Redis Cluster, where one call
 * may not span slots, every event is its own call.
 *
 * Keys: `<prefix>:<group>:claim:{<eventId>}` (the lease, value = fencing token),
 * `<prefix>:<group>:done:{<eventId>}` (the payload hash, prefixed `dlt:` for a dead-lettered event, kept
 * `doneTtlMs`) and `<prefix>:<group>:replay:{<eventId>}` (a replay request).
 *
 * The replay request and the race it closes: `dlt replay` forgets a `dlt:` marker so the replayed copy is
 * handled, not skipped. The DLT record is written before the dead-lettering holder's completion writes that
 * marker, so a replay may come in between and find no marker to forget; the marker written after would then
 * make the replayed copy a duplicate, and the replay would be lost. So a forget that finds no marker leaves a
 * replay request, and the first claim that finds a request beside a `dlt:` marker of the same payload deletes
 * both and claims the event.
 *
 * The success path touches two keys per event, claim and done: the replay request is read only where it can
 * matter, beside a `dlt:` marker. A claim that finds `dlt:<hash>` answers so without writing anything, and the
 * client claims that event again with a script that also declares the replay key (one more call, only for an
 * event dead-lettered before: a redelivery or a replay). Completions never touch the request. One left beside
 * a success marker (the event was handled after the replay was asked) is never read: a handled event stays
 * done (no claim gets past its marker, `forgetDeadLettered` keeps it), so no `dlt:` marker can replace it
 * while it lives, and the request, written before it with the same `doneTtlMs`, expires first. (Only a forget
 * through a store with a longer `doneTtlMs` than the consumer's could leave one that outlives the marker; it
 * would then make one duplicate of a later dead-lettering of the same event id be handled again.)
 */
import type { Redis } from 'ioredis';
import type { ClaimRequest, ClaimResult, IdempotencyStore } from './idempotency-store.ts';

/**
 * KEYS: claim, done; ARGV: token, hash, lease, token taken over or ''. `{'dlt'}`: the event was dead-lettered
 * with this payload; nothing was written, ask {@link claimDeadLetteredScript}.
 */
const claimScript = `
local done = redis.call('GET', KEYS[2])
if done then
  if done == ARGV[2] then return {'done'} end
  if done == 'dlt:' .. ARGV[2] then return {'dlt'} end
  return {'conflict'}
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX') then return {'claimed'} end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or (ARGV[4] ~= '' and holder == ARGV[4]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return {'claimed'}
end
return {'busy', redis.call('PTTL', KEYS[1]), holder}
`;

/** {@link claimScript} with the replay key (KEYS[3]): a request beside the `dlt:` marker is used up, and the event claimed. */
const claimDeadLetteredScript = `
local done = redis.call('GET', KEYS[2])
if done == 'dlt:' .. ARGV[2] and redis.call('DEL', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[2])
elseif done then
  if done == ARGV[2] or done == 'dlt:' .. ARGV[2] then return {'done'} else return {'conflict'} end
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX') then return {'claimed'} end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or (ARGV[4] ~= '' and holder == ARGV[4]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return {'claimed'}
end
return {'busy', redis.call('PTTL', KEYS[1]), holder}
`;

/** KEYS: claim, done; ARGV: token, marker (hash, or `dlt:` hash), TTL. */
const completeScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * {@link claimScript} for several events: KEYS in pairs, ARGV in fours (token, hash, lease, token taken over
 * or ''); replies in threes (status, ttl, holder or '').
 */
const claimManyScript = `
local replies = {}
for i = 1, #KEYS / 2 do
  local claimKey, doneKey = KEYS[2 * i - 1], KEYS[2 * i]
  local token, hash, lease, takeOver = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  local status, ttl, holder = 'busy', 0, ''
  local done = redis.call('GET', doneKey)
  if done then
    if done == hash then status = 'done' elseif done == 'dlt:' .. hash then status = 'dlt' else status = 'conflict' end
  elseif redis.call('SET', claimKey, token, 'PX', lease, 'NX') then
    status = 'claimed'
  else
    holder = redis.call('GET', claimKey) or ''
    if holder == token or (takeOver ~= '' and holder == takeOver) then
      redis.call('SET', claimKey, token, 'PX', lease)
      status = 'claimed'
    else
      ttl = redis.call('PTTL', claimKey)
    end
  end
  replies[3 * i - 2] = status
  replies[3 * i - 1] = ttl
  replies[3 * i] = holder
end
return replies
`;

/** {@link completeScript} for several events: KEYS in pairs, ARGV in pairs (token, marker), then the TTL. */
const completeManyScript = `
local replies = {}
local ttl = ARGV[#ARGV]
for i = 1, #KEYS / 2 do
  local claimKey, doneKey = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('GET', claimKey) ~= ARGV[2 * i - 1] then
    replies[i] = 0
  else
    redis.call('SET', doneKey, ARGV[2 * i], 'PX', ttl)
    redis.call('DEL', claimKey)
    replies[i] = 1
  end
end
return replies
`;

/** KEYS: done, replay; ARGV: the replay request's TTL. */
const forgetScript = `
local done = redis.call('GET', KEYS[1])
if not done then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return 1
end
if string.sub(done, 1, 4) == 'dlt:' then return redis.call('DEL', KEYS[1]) end
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
  orderlyClaim(claimKey: string, doneKey: string, token: string, hash: string, leaseMs: number, takeOver: string): Promise<[string, number?, string?]>;
  orderlyClaimDeadLettered(claimKey: string, doneKey: string, replayKey: string, token: string, hash: string, leaseMs: number, takeOver: string): Promise<[string, number?, string?]>;
  orderlyComplete(claimKey: string, doneKey: string, token: string, marker: string, ttlMs: number): Promise<number>;
  orderlyRelease(claimKey: string, token: string): Promise<number>;
  orderlyForget(doneKey: string, replayKey: string, ttlMs: number): Promise<number>;
  orderlyClaimMany(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<(string | number)[]>;
  orderlyCompleteMany(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

function scripted(redis: Redis): ScriptedRedis {
  if (!('orderlyClaim' in redis)) {
    redis.defineCommand('orderlyClaim', { numberOfKeys: 2, lua: claimScript });
    redis.defineCommand('orderlyClaimDeadLettered', { numberOfKeys: 3, lua: claimDeadLetteredScript });
    redis.defineCommand('orderlyComplete', { numberOfKeys: 2, lua: completeScript });
    redis.defineCommand('orderlyRelease', { numberOfKeys: 1, lua: releaseScript });
    redis.defineCommand('orderlyForget', { numberOfKeys: 2, lua: forgetScript });
  }
  if (!('orderlyClaimMany' in redis)) {
    // The key count is given per call.
    redis.defineCommand('orderlyClaimMany', { lua: claimManyScript });
    redis.defineCommand('orderlyCompleteMany', { lua: completeManyScript });
  }
  return redis as unknown as ScriptedRedis;
}

interface PendingCompletion {
  eventId: string;
  token: string;
  marker: string;
}

/**
 * Collects the requests made in one turn of the event loop and sends them together (at most `maxSize` a call).
 * One request alone, or a call that fails, goes one by one: a failure then touches only its own request.
 */
class TurnBatch<Request, Result> {
  private pending: { request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private readonly many: (requests: Request[]) => Promise<Result[]>;
  private readonly one: (request: Request) => Promise<Result>;
  private readonly maxSize: number;

  constructor({ many, one, maxSize }: { many: (requests: Request[]) => Promise<Result[]>; one: (request: Request) => Promise<Result>; maxSize: number }) {
    this.many = many;
    this.one = one;
    this.maxSize = maxSize;
  }

  add(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const alone = (entry: (typeof batch)[number]) => void this.one(entry.request).then(entry.resolve, entry.reject);
    if (batch.length === 1) return alone(batch[0]!);
    // Every request settles exactly once: a reply of the wrong length is a failed call, never a request left
    // waiting for an answer that will not come (its record would hold its key and partition for good).
    this.many(batch.map((entry) => entry.request)).then(
      (results) => (results.length === batch.length ? batch.forEach((entry, index) => entry.resolve(results[index]!)) : batch.forEach(alone)),
      () => batch.forEach(alone),
    );
  }
}

const maxBatch = 256;

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: ScriptedRedis;
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly doneTtlMs: number;
  private readonly claims: TurnBatch<ClaimRequest, ClaimResult> | undefined;
  private readonly completions: TurnBatch<PendingCompletion, 'completed' | 'fenced'> | undefined;

  constructor({ redis, groupId, keyPrefix = 'orderly', doneTtlMs = 7 * 24 * 3600 * 1000 }: RedisIdempotencyStoreOptions) {
    this.redis = scripted(redis);
    this.client = redis;
    this.prefix = `${keyPrefix}:${groupId}`;
    this.doneTtlMs = doneTtlMs;
    if (!redis.isCluster) {
      this.claims = new TurnBatch({ many: (requests) => this.claimMany(requests), one: (request) => this.claimOne(request), maxSize: maxBatch });
      this.completions = new TurnBatch({ many: (requests) => this.completeMany(requests), one: (request) => this.completeOne(request), maxSize: maxBatch });
    }
  }

  /** Claim and done marker: one hash tag keeps an event's keys (and its replay request) in one Redis Cluster slot. */
  private keys(eventId: string): [string, string] {
    return [`${this.prefix}:claim:{${eventId}}`, `${this.prefix}:done:{${eventId}}`];
  }

  private replayKey(eventId: string): string {
    return `${this.prefix}:replay:{${eventId}}`;
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.claims ? this.claims.add(request) : this.claimOne(request);
  }

  complete(eventId: string, token: string, payloadHash: string, outcome = { deadLettered: false }): Promise<'completed' | 'fenced'> {
    const request = { eventId, token, marker: outcome.deadLettered ? `dlt:${payloadHash}` : payloadHash };
    return this.completions ? this.completions.add(request) : this.completeOne(request);
  }

  private async claimOne(request: ClaimRequest): Promise<ClaimResult> {
    const { eventId, payloadHash, fencingToken, leaseMs, takeOver } = request;
    const [status, ttl, holder] = await this.redis.orderlyClaim(...this.keys(eventId), fencingToken, payloadHash, leaseMs, takeOver ?? '');
    return status === 'dlt' ? this.claimDeadLettered(request) : claimResult(status, ttl, holder, fencingToken);
  }

  private async claimMany(requests: ClaimRequest[]): Promise<ClaimResult[]> {
    const keys = requests.flatMap(({ eventId }) => this.keys(eventId));
    const args = requests.flatMap(({ fencingToken, payloadHash, leaseMs, takeOver }) => [fencingToken, payloadHash, leaseMs, takeOver ?? '']);
    const replies = await this.redis.orderlyClaimMany(keys.length, ...keys, ...args);
    if (replies.length !== 3 * requests.length) return [];
    const results = requests.map((request, index) => {
      const status = String(replies[3 * index]);
      return status === 'dlt' ? this.claimDeadLettered(request) : claimResult(status, Number(replies[3 * index + 1]), replies[3 * index + 2], request.fencingToken);
    });
    return results.some((result) => result instanceof Promise) ? Promise.all(results) : (results as ClaimResult[]);
  }

  /**
   * The claim of an event found dead-lettered with this payload (a redelivery, or a replay): asked again with
   * its replay key, so a replay request beside the marker is used up and the event claimed.
   */
  private async claimDeadLettered({ eventId, payloadHash, fencingToken, leaseMs, takeOver }: ClaimRequest): Promise<ClaimResult> {
    const [status, ttl, holder] = await this.redis.orderlyClaimDeadLettered(...this.keys(eventId), this.replayKey(eventId), fencingToken, payloadHash, leaseMs, takeOver ?? '');
    return claimResult(status, ttl, holder, fencingToken);
  }

  private async completeOne({ eventId, token, marker }: PendingCompletion): Promise<'completed' | 'fenced'> {
    const result = await this.redis.orderlyComplete(...this.keys(eventId), token, marker, this.doneTtlMs);
    return result === 1 ? 'completed' : 'fenced';
  }

  private async completeMany(requests: PendingCompletion[]): Promise<('completed' | 'fenced')[]> {
    const keys = requests.flatMap(({ eventId }) => this.keys(eventId));
    const args = requests.flatMap(({ token, marker }) => [token, marker]);
    const replies = await this.redis.orderlyCompleteMany(keys.length, ...keys, ...args, this.doneTtlMs);
    return replies.map((result) => (result === 1 ? 'completed' : 'fenced'));
  }

  /**
   * Deletes a `dlt:` marker; with no marker yet (the dead-lettering may still be in flight), leaves a replay
   * request so the marker written later does not make the replayed copy a duplicate. `false` when the event
   * was handled (a handled event stays done).
   */
  async forgetDeadLettered(eventId: string): Promise<boolean> {
    return (await this.redis.orderlyForget(this.keys(eventId)[1], this.replayKey(eventId), this.doneTtlMs)) === 1;
  }

  async isSettled(eventId: string): Promise<boolean> {
    return (await this.client.exists(this.keys(eventId)[1])) === 1;
  }

  async release(eventId: string, token: string): Promise<void> {
    await this.redis.orderlyRelease(this.keys(eventId)[0], token);
  }
}

function claimResult(status: string, ttl: number | undefined, holder: unknown, fencingToken: string): ClaimResult {
  switch (status) {
    case 'claimed':
      return { status, token: fencingToken };
    case 'done':
    case 'conflict':
      return { status };
    default:
      return { status: 'busy', retryAfterMs: Math.max(ttl ?? 0, 10), ...(typeof holder === 'string' && holder !== '' ? { holder } : {}) };
  }
}
