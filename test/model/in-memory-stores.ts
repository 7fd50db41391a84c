/**
 * In-memory stores for the model tests, with the semantics of the Redis ones (claims are leases on the clock,
 * completions are fenced by token) and injectable faults: an outage (every call fails until a time), single
 * failed calls, and parking writes that are acknowledged but lost (Redis `everysec` after a restart).
 */
import type { ClaimRequest, ClaimResult, IdempotencyStore } from '../../consumers/idempotency/idempotency-store.ts';
import type { ParkedKey, ParkedKeyEntry, ParkingStore, ParkingWriteResult } from '../../consumers/retries/parking-store.ts';

/** Faults shared by the stores: Redis is one server. */
export class StoreFaults {
  /** Every call fails until this time (epoch ms, on the faked clock). */
  outageUntil = 0;
  /** The next calls fail. */
  failNext = 0;
  /** The next parking writes are acknowledged and not applied. */
  loseNextParkingWrites = 0;
  /** The next claims are applied and their replies lost (the call fails after Redis ran it). */
  loseNextClaimReplies = 0;
  failedCalls = 0;

  check(): void {
    if (Date.now() < this.outageUntil || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--;
      this.failedCalls++;
      throw new Error('ECONNREFUSED (injected Redis fault)');
    }
  }

  clear(): void {
    this.outageUntil = 0;
    this.failNext = 0;
    this.loseNextParkingWrites = 0;
    this.loseNextClaimReplies = 0;
  }
}

interface Claim {
  token: string;
  expiresAt: number;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly claims = new Map<string, Claim>();
  /** Done markers: the payload hash, prefixed `dlt:` for a dead-lettered event. */
  readonly done = new Map<string, string>();
  /**
   * Replays asked for while no `dlt:` marker existed yet (the dead-lettering still in flight): the marker
   * written later does not make the replayed copy a duplicate. Read only beside a `dlt:` marker; a completion
   * leaves it (as Redis does: a request beside a success marker is never read).
   */
  readonly replayRequests = new Set<string>();
  /** Replay requests a claim found beside the `dlt:` marker written after them, and used up. */
  replayRequestsUsed = 0;
  /** Replay requests left beside a success marker (the event was handled after the replay was asked): never read. */
  get replayRequestsBesideSuccess(): number {
    return [...this.replayRequests].filter((eventId) => this.done.get(eventId)?.startsWith('dlt:') === false).length;
  }
  /** Events whose claim passed to another token after its lease expired (the old holder may still run). */
  readonly takenOver = new Set<string>();
  /** Claims this consumer took ahead, dropped unused, and took over when it met the event again (`takeOver`). */
  ownClaimsTakenOver = 0;
  /** Claims whose reply was lost after they were applied. */
  claimRepliesLost = 0;
  private readonly faults: StoreFaults;

  constructor(faults: StoreFaults) {
    this.faults = faults;
  }

  /**
   * Whether a claim's holder is still processing its event: when set, such a lease does not run out (the
   * model's restriction while expired leases are a known defect); a dead or finished holder's lease does.
   */
  holderBusy: (token: string, eventId: string) => boolean = () => false;

  private live(eventId: string): Claim | undefined {
    const claim = this.claims.get(eventId);
    if (claim && claim.expiresAt <= Date.now() && !this.holderBusy(claim.token, eventId)) {
      this.claims.delete(eventId);
      return undefined;
    }
    return claim;
  }

  /** Ends every lease now. */
  expireAll(): void {
    for (const claim of this.claims.values()) claim.expiresAt = Math.min(claim.expiresAt, Date.now());
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    this.faults.check();
    const result = this.claimNow(request);
    if (this.faults.loseNextClaimReplies > 0) {
      this.faults.loseNextClaimReplies--;
      this.claimRepliesLost++;
      throw new Error('ETIMEDOUT (injected: the claim was applied, its reply lost)');
    }
    return result;
  }

  private claimNow({ eventId, payloadHash, fencingToken, leaseMs, takeOver }: ClaimRequest): ClaimResult {
    const done = this.done.get(eventId);
    if (done === `dlt:${payloadHash}` && this.replayRequests.delete(eventId)) {
      this.done.delete(eventId);
      this.replayRequestsUsed++;
    } else if (done !== undefined) return done === payloadHash || done === `dlt:${payloadHash}` ? { status: 'done' } : { status: 'conflict' };
    const expired = this.claims.get(eventId);
    const claim = this.live(eventId);
    if (!claim || claim.token === fencingToken || (takeOver !== undefined && claim.token === takeOver)) {
      if (claim && claim.token !== fencingToken) this.ownClaimsTakenOver++;
      if (!claim && expired && expired.token !== fencingToken) this.takenOver.add(eventId);
      this.claims.set(eventId, { token: fencingToken, expiresAt: Date.now() + leaseMs });
      return { status: 'claimed', token: fencingToken };
    }
    return { status: 'busy', retryAfterMs: Math.max(claim.expiresAt - Date.now(), 10), holder: claim.token };
  }

  async complete(eventId: string, token: string, payloadHash: string, outcome = { deadLettered: false }): Promise<'completed' | 'fenced'> {
    this.faults.check();
    if (this.live(eventId)?.token !== token) return 'fenced';
    this.done.set(eventId, outcome.deadLettered ? `dlt:${payloadHash}` : payloadHash);
    this.claims.delete(eventId);
    return 'completed';
  }

  async forgetDeadLettered(eventId: string): Promise<boolean> {
    this.faults.check();
    const done = this.done.get(eventId);
    if (done === undefined) {
      this.replayRequests.add(eventId);
      return true;
    }
    if (!done.startsWith('dlt:')) return false;
    this.done.delete(eventId);
    return true;
  }

  /** Done (handled or dead-lettered): the done marker exists. */
  async isSettled(eventId: string): Promise<boolean> {
    this.faults.check();
    return this.done.has(eventId);
  }

  async release(eventId: string, token: string): Promise<void> {
    this.faults.check();
    if (this.live(eventId)?.token === token) this.claims.delete(eventId);
  }
}

/**
 * The parking store with the Redis one's semantics (compare-and-set on a per-key version, writes fenced by the
 * partition's owner token), plus faults: an outage or a failed call throws, and a lost write is acknowledged
 * and not applied.
 */
export class MemoryParkingStore implements ParkingStore {
  /** `topic \0 partition` -> key -> state (stored as JSON, as Redis does: no shared objects). */
  private readonly hashes = new Map<string, Map<string, string>>();
  private readonly owners = new Map<string, string>();
  private version = 0;
  private readonly faults: StoreFaults;
  lostWrites = 0;
  /** Keys that lost a parking write. */
  readonly keysWithLostWrites = new Set<string>();

  constructor(faults: StoreFaults) {
    this.faults = faults;
  }

  private hash(topic: string, partition: number): Map<string, string> {
    const id = `${topic}\u0000${partition}`;
    let hash = this.hashes.get(id);
    if (!hash) this.hashes.set(id, (hash = new Map()));
    return hash;
  }

  /** A write the store acknowledges: false when it is lost instead. */
  private applies(key: string): boolean {
    this.faults.check();
    if (this.faults.loseNextParkingWrites > 0) {
      this.faults.loseNextParkingWrites--;
      this.lostWrites++;
      this.keysWithLostWrites.add(key);
      return false;
    }
    return true;
  }

  private write(topic: string, partition: number, key: string, state: ParkedKey | undefined): void {
    if (state === undefined) this.hash(topic, partition).delete(key);
    else this.hash(topic, partition).set(key, JSON.stringify({ ...state, version: ++this.version }));
  }

  async load(topic: string, partition: number): Promise<Map<string, ParkedKey>> {
    this.faults.check();
    return new Map([...this.hash(topic, partition)].map(([key, json]) => [key, JSON.parse(json) as ParkedKey]));
  }

  async get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined> {
    this.faults.check();
    const json = this.hash(topic, partition).get(key);
    return json === undefined ? undefined : (JSON.parse(json) as ParkedKey);
  }

  async own(topic: string, partition: number, owner: string): Promise<void> {
    this.faults.check();
    this.owners.set(`${topic}\u0000${partition}`, owner);
  }

  async update(topic: string, partition: number, key: string, expected: ParkedKey | undefined, next: ParkedKey | undefined, owner?: string): Promise<ParkingWriteResult> {
    if (!this.applies(key)) return 'ok';
    if (owner !== undefined && owner !== '' && this.owners.get(`${topic}\u0000${partition}`) !== owner) return 'fenced';
    const json = this.hash(topic, partition).get(key);
    const current = json === undefined ? undefined : (JSON.parse(json) as ParkedKey);
    if ((current === undefined) !== (expected === undefined) || (current && current.version !== expected?.version)) return 'conflict';
    this.write(topic, partition, key, next);
    return 'ok';
  }

  async put(topic: string, partition: number, key: string, state: ParkedKey): Promise<void> {
    if (this.applies(key)) this.write(topic, partition, key, state);
  }

  async remove(topic: string, partition: number, key: string): Promise<void> {
    if (this.applies(key)) this.write(topic, partition, key, undefined);
  }

  async list(topic?: string): Promise<ParkedKeyEntry[]> {
    this.faults.check();
    return this.entries().filter((entry) => topic === undefined || entry.topic === topic);
  }

  /** Every entry, without faults: for the invariants. */
  entries(): ParkedKeyEntry[] {
    const result: ParkedKeyEntry[] = [];
    for (const [id, hash] of this.hashes) {
      const [topic, partition] = id.split('\u0000') as [string, string];
      for (const [key, json] of hash) result.push({ topic, partition: Number(partition), key, state: JSON.parse(json) as ParkedKey });
    }
    return result;
  }
}
