/**
 * Takes one record, from the source or a retry tier, to completed: key check, decode, key parking, idempotency
 * claim, handler attempts, then done, skipped as a duplicate, forwarded up the ladder or to the DLT.
 *
 * Crash safety, step by step: parking state is written (and acknowledged by the store) before the forward that
 * depends on it, and a forward is acknowledged (acks=all) before the record counts as completed. A crash
 * between any two steps leaves the record uncommitted, so it comes again; the parking queue then says whether
 * it is the head (handle it), a successor (forward it behind the head) or a stale copy from the ladder (skip).
 * A store or forward that fails is retried with backoff until it succeeds or the record stops being this
 * member's (then it is abandoned, not completed, and so not committed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DecodeError } from '../schemas/decode-error.ts';
import { readHeader, type ConsumedRecord } from './consumed-record.ts';
import type { ForwardFailure, RecordOrigin } from './dead-letter/dead-letter-headers.ts';
import type { DeadLetterReason } from './dead-letter/reason-codes.ts';
import type { ConsumerEventEmitter } from './events.ts';
import { createHandledEvent } from './handled-event.ts';
import { HandlerAttempts, errorSummary, errorTypeOf, type AttemptHooks, type AttemptsResult } from './handler-attempts.ts';
import type { HandledEvent, ValidOrderedConsumerOptions } from './options.ts';
import { backoffDelayMs } from './retries/backoff.ts';
import { ParkingFencedError, parkingChanges, type KeyParking, type ParkingChange, type ParkingRef } from './retries/key-parking.ts';
import type { ParkedKey } from './retries/parking-store.ts';
import type { RecordForwarder } from './retries/record-forwarder.ts';
import { readRetryState, type RetryState } from './retries/retry-headers.ts';
import { decideRetry } from './retries/retry-policy.ts';
import { deadLetterTopicOf, retryTopicOf } from './retries/topic-layout.ts';

type AttemptsFailed = Extract<AttemptsResult, { ok: false }>;

export type RecordOutcome = 'handled' | 'duplicate' | 'forwarded' | 'dead-lettered' | 'fenced' | 'abandoned';

/** Whether the record still belongs to this member's current assignment, and the stop signal. */
export interface RecordLiveness {
  /** The consumer's generation the record was started in. */
  epoch: number;
  isCurrent(): boolean;
  signal: AbortSignal;
}

export interface RecordProcessorDeps {
  forwarder: RecordForwarder;
  events: ConsumerEventEmitter;
  logger: Logger;
  fencingToken: () => string;
  parking: KeyParking | undefined;
  /** The source topic and tier of a retry-tier topic; undefined for a source topic. */
  tierOf: (topic: string) => { sourceTopic: string; tier: number } | undefined;
}

const eventIdHeader = 'orderly-event-id';
const eventTypeHeader = 'orderly-event-type';
const maxEventIdLength = 200;

/** Thrown (rejected) when the record stops being this member's, or the consumer stops: not completed. */
export class RecordAbandoned extends Error {}

/** A retry found its idempotency claim lost (the lease ran out and another holder took it, or completed it). */
class ClaimLost extends Error {}

/** A source record's retry state: it has not failed yet. */
const firstVisit: RetryState = Object.freeze({ attempts: 0, level: 0, firstFailureAt: undefined, dueAt: 0, originalOffset: undefined });

/** One record in process: what every step needs. */
interface Work<T> {
  record: ConsumedRecord;
  live: RecordLiveness;
  origin: RecordOrigin;
  tier: number;
  retry: RetryState;
  firstFailureAt: number;
  /** performance.now() when processing began: `durationMs` in log lines. */
  startedAt: number;
  event?: HandledEvent<T>;
  /** The idempotency claim's fencing token, once claimed. */
  token?: string;
  /** The owner token of the assignment the record was started in: fences its parking writes. */
  owner: string;
}

export class RecordProcessor<T> {
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly deps: RecordProcessorDeps;
  private readonly attempts: HandlerAttempts<T>;
  private readonly hooks: AttemptHooks<Work<T>>;
  private readonly maxDelayMs: number;
  /** Only the handler runs: see {@link handlePlain}. */
  private readonly plain: boolean;
  /** Numbers the claims: a claim's token names the member, the assignment and the claim. */
  private claims = 0;

  constructor(options: ValidOrderedConsumerOptions<T>, deps: RecordProcessorDeps) {
    this.options = options;
    this.deps = deps;
    this.attempts = new HandlerAttempts(options, deps.events);
    this.maxDelayMs = Math.max(0, ...options.retryTiersMs) * (1 + options.retryJitter);
    this.plain = !options.decoder && !options.idempotencyStore && (options.ordering === 'none' || !deps.parking) && options.maxEventAgeMs === undefined;
    this.hooks = {
      pause: (work, ms) => this.pause(ms, work.live),
      beforeRetry: async (work) => {
        const store = this.options.idempotencyStore;
        const { event, token } = work;
        if (!store || !token || !event) return;
        const renewed = await this.durably(work, () => store.claim({ eventId: event.eventId, payloadHash: event.payloadHash, fencingToken: token, leaseMs: this.options.leaseMs }));
        if (renewed.status !== 'claimed') throw new ClaimLost(renewed.status); // never retry without the claim
      },
    };
  }

  /** Rejects with {@link RecordAbandoned} when the record is abandoned (not completed: it comes again). */
  process(record: ConsumedRecord, live: RecordLiveness): Promise<RecordOutcome> {
    const work = this.workOf(record, live);
    if (this.plain && work.tier === 0 && (this.options.ordering === 'none' || (record.key !== null && record.key.length > 0))) return this.handlePlain(work);
    return this.processOrAbandon(work);
  }

  /**
   * A source record when nothing but the handler runs (no decoder, no idempotency store, no key parking, no
   * age limit): the same steps as {@link processOrAbandon} with none of them, as a plain promise chain that
   * holds no suspended async frame while the handler runs.
   */
  private handlePlain(work: Work<T>): Promise<RecordOutcome> {
    const { record } = work;
    const event = createHandledEvent<T>(work.origin, record, record.value as T, eventIdOf(work), readHeader(record.headers, eventTypeHeader));
    work.event = event;
    return this.attempts.run(event, work.retry.attempts, work.live.signal, this.hooks, work, record).then((result) => {
      if (!result.ok) return this.afterFailure(work, result, undefined, undefined);
      this.reportHandled(work, result);
      return 'handled';
    });
  }

  private reportHandled(work: Work<T>, result: { attempts: number; durationMs: number }): void {
    const { record } = work;
    const attempt = work.retry.attempts + result.attempts;
    if (this.deps.events.listenerCount('consumer.record.handled') > 0) {
      const occurredAt = Date.parse(readHeader(record.headers, 'orderly-occurred-at') ?? '');
      this.deps.events.emit('consumer.record.handled', { ...reference(record), durationMs: result.durationMs, attempt, occurredAt: Number.isFinite(occurredAt) ? occurredAt : undefined });
    }
    if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ ...logFields(work), attempt, status: 'handled' }, 'event handled');
  }

  private workOf(record: ConsumedRecord, live: RecordLiveness): Work<T> {
    const ladder = record.sourceTopic === record.topic ? undefined : this.deps.tierOf(record.topic);
    const now = Date.now();
    const retry: RetryState = ladder ? readRetryState(record.headers, { now, maxDelayMs: this.maxDelayMs }) : firstVisit;
    return {
      record,
      live,
      startedAt: performance.now(),
      owner: this.deps.fencingToken(),
      tier: ladder?.tier ?? 0,
      retry,
      firstFailureAt: retry.firstFailureAt ?? now,
      // A source record is its own origin (same topic, partition, offset and timestamp): no object per record.
      origin: ladder
        ? {
            topic: ladder.sourceTopic,
            partition: record.partition,
            offset: retry.originalOffset ?? record.offset,
            timestamp: readHeader(record.headers, 'orderly-original-timestamp') || record.timestamp,
          }
        : record,
    };
  }

  private async processOrAbandon(work: Work<T>): Promise<RecordOutcome> {
    const { record } = work;
    if (this.options.ordering !== 'none' && (record.key === null || record.key.length === 0)) {
      return this.deadLetter(work, 'missing-key');
    }
    if (this.options.maxEventAgeMs !== undefined && work.tier === 0 && !(Number(readHeader(record.headers, 'orderly-replay-count') ?? 0) > 0) && ageOf(record) > this.options.maxEventAgeMs) {
      // Load shedding: too old to be worth handling now. Kept in the DLT, replayable.
      return this.deadLetter(work, 'expired');
    }
    let value: T;
    if (this.options.decoder) {
      const decoded = await this.decode(work);
      if ('reason' in decoded) return this.deadLetter(work, decoded.reason, decoded.error);
      value = decoded.value;
    } else {
      value = record.value as T;
    }
    // Headers (all decoded) and the payload hash are computed on first read: most handlers read neither.
    const event = createHandledEvent<T>(work.origin, record, value, eventIdOf(work), readHeader(record.headers, eventTypeHeader));
    work.event = event;

    const parking = this.options.ordering === 'none' ? undefined : this.deps.parking;
    let parked = parking ? await this.durably(work, () => parking.stateOf(this.parkingRef(work))) : undefined;
    if (parked) {
      if (parked.held) {
        const outcome = await this.deadLetter(work, 'predecessor-dead-lettered');
        await this.changeParking(work, parkingChanges.advance(event.eventId));
        return outcome;
      }
      if (parked.queue[0] !== event.eventId) {
        const followed = await this.followHead(work, parked);
        if (typeof followed === 'string') return followed;
        parked = followed.head; // back in the queue as its head (or the key was unparked meanwhile): handle it now
      }
    }

    const store = this.options.idempotencyStore;
    let token: string | undefined;
    if (store) {
      const claim = await this.claim(work);
      if (claim === 'done') {
        this.deps.events.emit('consumer.record.skipped-duplicate', reference(record));
        if (parked) await this.changeParking(work, parkingChanges.advance(event.eventId));
        return 'duplicate';
      }
      if (claim === 'conflict') return this.deadLetterHead(work, parked, 'id-conflict', undefined);
      token = claim;
      work.token = token;
    }

    let result: Awaited<ReturnType<HandlerAttempts<T>['run']>>;
    try {
      result = await this.attempts.run(event, work.retry.attempts, work.live.signal, this.hooks, work, record);
    } catch (error) {
      // Abandoned mid-retry: give the claim up so the next owner need not wait out the lease.
      if (store && token) await store.release(event.eventId, token).catch(() => undefined);
      if (error instanceof ClaimLost) {
        // The lease ran out between attempts: stop retrying, and start over; the store says done or claims again.
        this.deps.logger.warn({ ...logFields(work), status: 'fenced', claim: error.message }, 'claim lost between attempts; retry stopped');
        this.deps.events.emit('consumer.record.fenced', reference(record));
        return this.processOrAbandon(work);
      }
      throw error;
    }

    if (result.ok) {
      this.reportHandled(work, result);
      let outcome: RecordOutcome = 'handled';
      if (store && token && (await this.durably(work, () => store.complete(event.eventId, token!, event.payloadHash))) === 'fenced') {
        this.deps.logger.warn({ ...logFields(work), status: 'fenced' }, 'claim lost before completion; completing it again');
        this.deps.events.emit('consumer.record.fenced', reference(record));
        await this.completeAfterFence(work);
        outcome = 'fenced';
      }
      // Handled, and done in the store: the key's queue moves on (a fenced completion too, or the key waits forever).
      if (parked) await this.changeParking(work, parkingChanges.advance(event.eventId));
      return outcome;
    }

    return this.afterFailure(work, result, parked, token);
  }

  /** The handler failed (every attempt here): up the retry ladder, or to the DLT. */
  private async afterFailure(work: Work<T>, result: AttemptsFailed, parked: ParkedKey | undefined, token: string | undefined): Promise<RecordOutcome> {
    const { record } = work;
    const event = work.event!;
    const store = this.options.idempotencyStore;
    const parking = this.options.ordering === 'none' ? undefined : this.deps.parking;
    const attemptsSoFar = work.retry.attempts + result.attempts;
    const decision = result.hung
      ? ({ kind: 'dead-letter', reason: 'handler-timeout' } as const)
      : decideRetry(
          { error: result.error, attemptsSoFar, currentTier: work.retry.level, failedAt: Date.now(), timedOut: result.timedOut },
          { tiersMs: this.options.retryTiersMs, maxAttempts: this.options.maxAttempts, jitter: this.options.retryJitter, isRetryable: this.options.isRetryable },
        );
    if (decision.kind === 'tier') {
      if (parking) await this.changeParking(work, parkingChanges.headOnTier(event.eventId, decision.tier, work.origin.offset, Date.now()));
      await this.forwardDurably(work, retryTopicOf(work.origin.topic, this.options.groupId, decision.tier), {
        attempt: attemptsSoFar,
        firstFailureAt: work.firstFailureAt,
        error: result.error,
        dueAt: decision.dueAt,
        tier: decision.tier,
        level: decision.tier,
      });
      if (store && token) await store.release(event.eventId, token).catch(() => undefined);
      this.deps.events.emit('consumer.record.retried', { ...reference(record), tier: decision.tier });
      this.deps.logger.warn({ ...logFields(work), attempt: attemptsSoFar, status: `retry-tier-${decision.tier}`, err: errorSummary(result.error) }, 'handler failed; sent up the retry ladder');
      return 'forwarded';
    }
    const outcome = await this.deadLetterHead(work, parked, decision.reason, result.error, attemptsSoFar);
    if (store && token) await this.durably(work, () => store.complete(event.eventId, token!, event.payloadHash, { deadLettered: true }));
    return outcome;
  }

  /**
   * A successor of a parked key: it waits on the head's tier, behind the head, in order. Returns `{ head }` when
   * the record is to be handled now: it went back into the queue as its head, or the key was unparked meanwhile.
   */
  private async followHead(work: Work<T>, parked: ParkedKey): Promise<RecordOutcome | { head: ParkedKey | undefined }> {
    const eventId = work.event!.eventId;
    if (!parked.queue.includes(eventId)) {
      if (work.tier > 0) {
        // On the ladder but not in the queue: a copy left by a crash (handled or dead-lettered already), or an id
        // the queue lost (a Redis write lost, a racing write). Parking state alone never skips it: ask the store.
        const settled = await this.settledElsewhere(work);
        if (settled) return settled;
        this.deps.logger.warn({ ...logFields(work), status: 'requeued' }, "retry-tier event missing from its key's parking queue and not done; put back in offset order");
      }
      const state = await this.changeParking(work, parkingChanges.follow(eventId, work.origin.offset));
      if (!state || state.queue[0] === eventId) return { head: state };
      parked = state;
    }
    const delay = this.options.retryTiersMs[parked.headTier - 1] ?? 0;
    await this.forwardDurably(work, retryTopicOf(work.origin.topic, this.options.groupId, parked.headTier), {
      attempt: work.retry.attempts,
      firstFailureAt: work.firstFailureAt,
      dueAt: Date.now() + delay,
      tier: parked.headTier,
      level: work.retry.level,
    });
    this.deps.events.emit('consumer.record.retried', { ...reference(work.record), tier: parked.headTier });
    return 'forwarded';
  }

  /** Dead-letters an event and applies `onDeadLetter` to its key when the key is (or must now be) parked. */
  private async deadLetterHead(work: Work<T>, parked: ParkedKey | undefined, reason: DeadLetterReason, error: unknown, attempt = work.retry.attempts): Promise<RecordOutcome> {
    const outcome = await this.deadLetter(work, reason, error, attempt);
    if (this.options.ordering === 'none' || !this.deps.parking) return outcome;
    const eventId = work.event?.eventId ?? eventIdOf(work);
    if (this.options.onDeadLetter === 'hold') await this.changeParking(work, parkingChanges.hold(eventId, Date.now()));
    else if (parked) await this.changeParking(work, parkingChanges.advance(eventId));
    return outcome;
  }

  private async decode(work: Work<T>): Promise<{ value: T } | { reason: DeadLetterReason; error: unknown }> {
    const decoder = this.options.decoder;
    const { record } = work;
    if (!decoder) return { value: record.value as T };
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await decoder.decode(record.value, record) };
      } catch (error) {
        if (error instanceof DecodeError) return { reason: error.reason === 'schema-not-found' ? 'schema-not-found' : 'decode-error', error };
        if (error instanceof OrderlyError && error.retriable) {
          // The registry is down: not the record's fault. Wait; never dead-letter for it.
          this.deps.logger.warn({ ...logFields(work), attempt, err: errorSummary(error) }, 'decoder unavailable; retrying');
          await this.pause(backoffDelayMs(attempt, { baseMs: 200, maxMs: 10_000 }), work.live);
          continue;
        }
        return { reason: 'decode-error', error };
      }
    }
  }

  private async claim(work: Work<T>): Promise<string | 'done' | 'conflict'> {
    const store = this.options.idempotencyStore!;
    const { eventId, payloadHash } = work.event!;
    for (;;) {
      // Fenced per claim: another claim of this member and assignment (a second copy of the event) is another holder.
      const fencingToken = `${work.owner}/${++this.claims}`;
      const result = await this.durably(work, () => store.claim({ eventId, payloadHash, fencingToken, leaseMs: this.options.leaseMs }));
      if (result.status === 'claimed') return result.token;
      if (result.status === 'done' || result.status === 'conflict') return result.status;
      await this.pause(Math.min(result.retryAfterMs, 1_000), work.live);
    }
  }

  /**
   * A retry-tier copy missing from its key's queue: settled when the idempotency store says the event is done
   * (`'duplicate'`) or conflicts (dead-lettered); undefined when it is not done (the claim taken to ask is given
   * back) or there is no store to ask.
   */
  private async settledElsewhere(work: Work<T>): Promise<RecordOutcome | undefined> {
    const store = this.options.idempotencyStore;
    if (!store) return undefined;
    const claim = await this.claim(work);
    if (claim === 'done') {
      this.deps.events.emit('consumer.record.skipped-duplicate', reference(work.record));
      return 'duplicate';
    }
    if (claim === 'conflict') return this.deadLetter(work, 'id-conflict');
    await store.release(work.event!.eventId, claim).catch(() => undefined);
    return undefined;
  }

  /**
   * The handler succeeded but the claim was lost before completion (its lease ran out, e.g. during a Redis
   * outage longer than the lease): claim again (waiting out another holder's lease) and complete, until the
   * store says the event is done, so the key's queue can move on.
   */
  private async completeAfterFence(work: Work<T>): Promise<void> {
    const store = this.options.idempotencyStore!;
    const { eventId, payloadHash } = work.event!;
    for (;;) {
      const claim = await this.claim(work);
      if (claim === 'done' || claim === 'conflict') return;
      if ((await this.durably(work, () => store.complete(eventId, claim, payloadHash))) === 'completed') return;
    }
  }

  private parkingRef(work: Work<T>): ParkingRef {
    const key = work.event?.key ?? work.record.key?.toString('utf8') ?? '';
    return { topic: work.origin.topic, partition: work.record.partition, key, owner: work.owner };
  }

  /** Changes the key's parking state (fenced by the record's assignment); a fenced write is retried until the record is abandoned. */
  private changeParking(work: Work<T>, change: ParkingChange): Promise<ParkedKey | undefined> {
    const parking = this.deps.parking!;
    const ref = this.parkingRef(work);
    return this.durably(work, () => parking.change(ref, change));
  }

  private async deadLetter(work: Work<T>, reason: DeadLetterReason, error?: unknown, attempt = work.retry.attempts): Promise<RecordOutcome> {
    await this.forwardDurably(work, deadLetterTopicOf(work.origin.topic, this.options.groupId), { reason, attempt, firstFailureAt: work.firstFailureAt, error });
    this.deps.events.emit('consumer.record.dead-lettered', { ...reference(work.record), reason });
    this.deps.logger.error({ ...logFields(work), attempt, status: 'dead-lettered', reason, err: errorSummary(error) }, 'event dead-lettered');
    return 'dead-lettered';
  }

  /** Forwards, retrying a failed forward with backoff; never skips. */
  private async forwardDurably(work: Work<T>, topic: string, failure: ForwardFailure): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.forwarder.forward(topic, work.record, failure, work.origin);
        return;
      } catch (error) {
        this.deps.events.emit('consumer.forward.failed', { ...reference(work.record), errorType: errorTypeOf(error) });
        this.deps.logger.error({ ...logFields(work), attempt, err: errorSummary(error) }, `forward to ${topic} failed; the partition waits at this record`);
        await this.pause(backoffDelayMs(attempt, { baseMs: 500, maxMs: 30_000 }), work.live);
      }
    }
  }

  /** Runs a store operation until it succeeds (Redis may restart), or the record is abandoned. */
  private async durably<R>(work: Work<T>, operation: () => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (error instanceof ParkingFencedError) this.deps.logger.warn({ ...logFields(work), attempt, status: 'fenced' }, 'parking state owned by another assignment; waiting to be revoked');
        else this.deps.logger.warn({ ...logFields(work), attempt, err: errorSummary(error) }, 'state store unavailable; retrying');
        await this.pause(backoffDelayMs(attempt, { baseMs: 100, maxMs: 5_000 }), work.live);
      }
    }
  }

  /** Waits, unless the record stops being this member's or the consumer stops: then it is abandoned. */
  private async pause(ms: number, live: RecordLiveness): Promise<void> {
    if (!live.isCurrent() || live.signal.aborted) throw new RecordAbandoned();
    await sleep(ms, undefined, { signal: live.signal }).catch(() => undefined);
    if (!live.isCurrent() || live.signal.aborted) throw new RecordAbandoned();
  }
}

function eventIdOf(work: Work<unknown>): string {
  const given = readHeader(work.record.headers, eventIdHeader);
  return given && given.length <= maxEventIdLength ? given : `${work.origin.topic}:${work.origin.partition}:${work.origin.offset}`;
}

/** Milliseconds since the event occurred (`orderly-occurred-at`), else since the broker stored it. */
function ageOf(record: ConsumedRecord): number {
  const occurredAt = Date.parse(readHeader(record.headers, 'orderly-occurred-at') ?? '');
  return Date.now() - (Number.isFinite(occurredAt) ? occurredAt : Number(record.timestamp));
}

function reference(record: ConsumedRecord) {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** The fixed fields of DESIGN.md for a record's log lines: never its payload. */
function logFields(work: Work<unknown>) {
  return {
    eventId: work.event?.eventId ?? eventIdOf(work),
    eventType: work.event?.eventType ?? readHeader(work.record.headers, eventTypeHeader),
    key: work.record.key?.toString('utf8') ?? null,
    topic: work.record.topic,
    partition: work.record.partition,
    offset: work.record.offset,
    durationMs: Math.round(performance.now() - work.startedAt),
  };
}
