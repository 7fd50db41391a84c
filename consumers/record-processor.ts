/**
 * Takes one record, from the source or a retry tier, to completed, in five steps, each a call into the folder
 * that owns it: decode (`schemas/`) -> parking gate (`retries/key-parking`) -> claim (`idempotency/`) ->
 * attempts (`handler-attempts`) -> route (`retries/failure-router` decides, `dead-letter/dead-letter-publisher`
 * sends). Every route out of a parked key's queue advances the queue, whichever step it leaves from.
 *
 * Crash safety, step by step: parking state is written (and acknowledged by the store) before the forward that
 * depends on it, and a forward is acknowledged (acks=all) before the record counts as completed. A crash
 * between any two steps leaves the record uncommitted, so it comes again; the parking queue then says whether
 * it is the head (handle it), a successor (forward it behind the head) or a stale copy from the ladder (skip).
 * A store or forward that fails is retried with backoff until it succeeds or the record stops being this
 * member's (then it is abandoned, not completed, and so not committed). An unexpected error anywhere is logged
 * and the record is processed again from the start: its key's lane is never freed before the record settles.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { headerNames } from '../core/headers.ts';
import { OrderlyError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DecodeError } from '../schemas/decode-error.ts';
import { recordHeader, type ConsumedRecord, type RetryState } from './consumed-record.ts';
import type { ForwardFailure, RecordOrigin } from './dead-letter/dead-letter-headers.ts';
import { DeadLetterPublisher, type RecordForwarder } from './dead-letter/dead-letter-publisher.ts';
import type { DeadLetterReason } from './dead-letter/reason-codes.ts';
import type { ConsumerEventEmitter } from './events.ts';
import { createHandledEvent, payloadHashOf } from './handled-event.ts';
import { HandlerAttempts, errorSummary, keptEmits, type AttemptHooks, type AttemptsResult, type FirstAttempt, type Outcome } from './handler-attempts.ts';
import type { EmitEncoder } from './emit/attempt-emits.ts';
import type { IdempotencyStore } from './idempotency/idempotency-store.ts';
import type { EncodedRecord } from '../producers/outgoing-event.ts';
import { claimWorstCaseMs, type HandledEvent, type ValidOrderedConsumerOptions } from './options.ts';
import { ClaimAhead } from './idempotency/claim-ahead.ts';
import { backoffDelayMs } from './retries/backoff.ts';
import { decideRetry, parkingAfterDeadLetter, parkingAfterHead, successorDueAt } from './retries/failure-router.ts';
import { ParkingFencedError, parkingChanges, type KeyParking, type ParkingChange, type ParkingRef } from './retries/key-parking.ts';
import type { ParkedKey } from './retries/parking-store.ts';
import { deadLetterTopicOf, retryTopicOf } from './retries/topic-layout.ts';
import type { DelayedEvents } from './delays/delayed-events.ts';
import { maxTimerMs } from './retries/held-tier-records.ts';
import { tracedAttempts, type Attempts } from './tracing/traced-attempts.ts';

type AttemptsFailed = Extract<AttemptsResult, { ok: false }>;

export type RecordOutcome = 'handled' | 'duplicate' | 'forwarded' | 'dead-lettered' | 'fenced' | 'abandoned' | 'cancelled';

/** Whether the record still belongs to this member's current assignment, and the stop signal. */
export interface RecordLiveness {
  /** The consumer's generation the record was started in. */
  epoch: number;
  /** The owner token of that generation (`memberId/epoch`), made once per generation; else asked per record. */
  owner?: string;
  isCurrent(): boolean;
  signal: AbortSignal;
}

export interface RecordProcessorDeps {
  /** Sends one forward (see dead-letter-publisher.ts); the processor retries it until acknowledged. */
  forwarder: RecordForwarder;
  events: ConsumerEventEmitter;
  logger: Logger;
  fencingToken: () => string;
  parking: KeyParking | undefined;
  /** The source topic and tier of a retry-tier topic; undefined for a source topic. */
  tierOf: (topic: string) => { sourceTopic: string; tier: number } | undefined;
  /** Delayed events: levels and cancellations (consumers/delays/). */
  delays?: DelayedEvents;
  /** `transactional`: emits are encoded and kept with their record for its shard's transaction (consumers/transactions/). */
  emitEncoder?: EmitEncoder;
}

const maxEventIdLength = 200;

/** Where {@link RecordProcessor.start} reports: one object for every record, no closure per record. */
export interface RecordSink {
  settled(record: ConsumedRecord, live: RecordLiveness, outcome: RecordOutcome): void;
  /** The handler succeeded; only writing the idempotency store's done marker remains before `settled`. */
  handlerDone?(record: ConsumedRecord): void;
  /** Processing failed: a {@link RecordAbandoned}, or an unexpected error (the record is not completed). */
  failed(record: ConsumedRecord, live: RecordLiveness, error: unknown): void;
}

/** Thrown (rejected) when the record stops being this member's, or the consumer stops: not completed. */
export class RecordAbandoned extends Error {}

/** A retry found its idempotency claim lost (the lease ran out and another holder took it, or completed it). */
class ClaimLost extends Error {}

/** One record in process: what every step needs. */
interface Work<T> {
  record: ConsumedRecord;
  live: RecordLiveness;
  origin: RecordOrigin;
  tier: number;
  retry: RetryState;
  firstFailureAt: number;
  /** From `orderly-event-id` (bounded), else the origin's coordinates. */
  eventId: string;
  /** performance.now() when processing began: `durationMs` in log lines. */
  startedAt: number;
  event?: HandledEvent<T>;
  /** The idempotency claim's fencing token, once claimed. */
  token?: string;
  /** The owner token of the assignment the record was started in: fences its parking writes. */
  owner: string;
  /** Told when the handler is done and only the done marker remains (see {@link RecordSink.handlerDone}). */
  sink?: RecordSink;
  /** Set while the record waits for another holder's claim, and it logged the key's warning. */
  waitingKey?: string;
}

/** Why a record cannot be handled at all: it goes to the DLT before any attempt. */
type Rejection = { reason: DeadLetterReason; error?: unknown };

export class RecordProcessor<T> {
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly deps: RecordProcessorDeps;
  private readonly attempts: Attempts<T>;
  /** The attempts themselves: the plain path starts a first attempt with them while no tracer is registered. */
  private readonly handlerAttempts: HandlerAttempts<T>;
  private readonly publisher: DeadLetterPublisher;
  private readonly hooks: AttemptHooks<Work<T>>;
  /** Only the handler runs: see {@link handlePlain}. */
  private readonly plain: boolean;
  /** Numbers the claims: a claim's token names the member, the assignment and the claim. */
  private claims = 0;
  /** Claims taken when records are fetched, before they start (with an idempotency store). */
  private readonly ahead: ClaimAhead<ConsumedRecord> | undefined;
  /** The longest time a claim goes unrenewed once its record starts: a claim taken ahead must still cover it. */
  private readonly claimNeedsMs: number;
  /** Keys with a record waiting for another holder's claim that logged it (see {@link claimWaiting}). */
  private readonly waitingKeys = new Set<string>();

  constructor(options: ValidOrderedConsumerOptions<T>, deps: RecordProcessorDeps) {
    this.options = options;
    this.deps = deps;
    // Each record's attempts in a consumer span while a tracer provider is registered (consumers/tracing/).
    this.handlerAttempts = new HandlerAttempts(options, deps.events, deps.emitEncoder);
    this.attempts = tracedAttempts(this.handlerAttempts, options.groupId);
    this.publisher = new DeadLetterPublisher({ forwarder: deps.forwarder, events: deps.events, logger: deps.logger, deadLetterTopicOf: (topic) => deadLetterTopicOf(topic, options.groupId) });
    this.claimNeedsMs = claimWorstCaseMs(options);
    const store = options.idempotencyStore;
    this.ahead = store
      ? new ClaimAhead<ConsumedRecord>({
          store,
          leaseMs: options.leaseMs,
          window: Math.max(claimAheadWindowMin, claimAheadPerSlot * options.concurrency),
          eventOf: (record) => ({ eventId: sourceEventIdOf(record), payloadHash: payloadHashOf(record.value) }),
          nextToken: (owner) => `${owner}/${++this.claims}`,
        })
      : undefined;
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

  /**
   * Processes the record and reports to `sink` once: `settled` with the outcome, or `failed` with the error
   * (a {@link RecordAbandoned}: not completed, it comes again). A source record on the plain path whose handler
   * succeeds at the first attempt costs no promise here beyond the handler's own.
   */
  start(record: ConsumedRecord, live: RecordLiveness, sink: RecordSink): void {
    // Traced records go through `run` (a span per record): the plain path's first attempt has no promise to span.
    if (this.plain && record.tier === 0 && record.delay === undefined && (this.options.ordering === 'none' || hasKey(record)) && !this.attempts.tracing()) {
      try {
        if (this.startPlain(record, live, sink)) return;
      } catch (error) {
        return this.report(Promise.reject(error as Error), record, live, sink);
      }
    }
    let processing: Promise<RecordOutcome>;
    try {
      processing = this.process(record, live, sink);
    } catch (error) {
      // Thrown before the first await: handled as a rejection, so the record still completes its lane.
      processing = Promise.reject(error as Error);
    }
    this.report(processing, record, live, sink);
  }

  /** {@link start} on the plain path: false when the handler could not start at once (see `startFirst`). */
  private startPlain(record: ConsumedRecord, live: RecordLiveness, sink: RecordSink): boolean {
    const work = this.workOf(record, live);
    work.event = createHandledEvent<T>(work.origin, record, record.value as T, work.eventId, recordHeader(record, headerNames.eventType));
    work.sink = sink;
    return this.handlerAttempts.startFirst(work.event, work.retry.attempts, live.signal, this.firstSettled, work);
  }

  /** A plain-path first attempt's outcome (one function for every record: its state is in `work`). */
  private readonly firstSettled = (outcome: Outcome, first: FirstAttempt, work: Work<T>): void => {
    const { record, live, event } = work;
    const sink = work.sink!;
    if (outcome !== 'timeout' && outcome.ok) {
      try {
        this.reportHandled(work, { attempts: 1, durationMs: performance.now() - first.startedAt });
        this.keep(record, keptEmits(first.context));
      } catch (error) {
        return void this.report(this.again(work, error), record, live, sink);
      }
      return sink.settled(record, live, 'handled');
    }
    const rest = this.handlerAttempts.continueAfter(first, outcome, event!, work.retry.attempts, live.signal, this.hooks, work, record).then((result) => {
      if (!result.ok) return this.route(work, result, undefined, undefined);
      this.reportHandled(work, result);
      this.keep(record, result.emitted);
      return 'handled' as const;
    });
    this.report(
      rest.catch((error: unknown) => this.again(work, error)),
      record,
      live,
      sink,
    );
  };

  private report(processing: Promise<RecordOutcome>, record: ConsumedRecord, live: RecordLiveness, sink: RecordSink): void {
    processing.then(
      (outcome) => sink.settled(record, live, outcome),
      (error: unknown) => sink.failed(record, live, error),
    );
  }

  /**
   * A fetched record queued to start: with an idempotency store, a source record's event is claimed ahead of
   * its start ({@link ClaimAhead}) at the next {@link claimAhead}.
   */
  offer(record: ConsumedRecord): void {
    // Not a delayed event or a cancellation: they leave through the delay gate, never reaching a claim step.
    if (this.ahead && record.tier === 0 && record.delay === undefined && (this.options.ordering === 'none' || hasKey(record))) this.ahead.offer(record);
  }

  /** Claims the records offered, in fetch order, up to the window (all in one turn: one store call). */
  claimAhead(live: RecordLiveness): void {
    this.ahead?.fill(live.owner ?? this.deps.fencingToken());
  }

  /** The queued records were dropped (a new assignment, a stop): their claims taken ahead are released. */
  dropClaimsAhead(): void {
    this.ahead?.reset();
  }

  /** Claims taken ahead and not used yet, and claims sent ahead in all: for tests and the bench. */
  claimsAhead(): { held: number; sent: number } {
    return { held: this.ahead?.size ?? 0, sent: this.ahead?.claimsSent ?? 0 };
  }

  /** Rejects with {@link RecordAbandoned} when the record is abandoned (not completed: it comes again). */
  process(record: ConsumedRecord, live: RecordLiveness, sink?: RecordSink): Promise<RecordOutcome> {
    const work = this.workOf(record, live);
    work.sink = sink;
    const processing = this.plain && work.tier === 0 && record.delay === undefined && (this.options.ordering === 'none' || hasKey(record)) ? this.handlePlain(work) : this.processOrAbandon(work);
    const settled = processing.catch((error: unknown) => this.again(work, error));
    const ahead = this.ahead;
    if (!ahead) return settled;
    // Settled either way: a claim taken ahead for it and never used is released.
    return settled.then(
      (outcome) => (ahead.settled(record), outcome),
      (error: unknown) => {
        ahead.settled(record);
        throw error;
      },
    );
  }

  /**
   * An unexpected error (a bug, never the handler's: its errors are failures with a route): logged, and the
   * record processed again from the start after a backoff, so its key's next event still waits for it.
   */
  private async again(work: Work<T>, error: unknown): Promise<RecordOutcome> {
    for (let attempt = 1; ; attempt++) {
      if (error instanceof RecordAbandoned) throw error;
      this.deps.logger.error({ ...logFields(work), attempt, err: errorSummary(error) }, 'record processing failed unexpectedly; processing it again (its key waits)');
      await this.pause(backoffDelayMs(attempt, { baseMs: 200, maxMs: 30_000 }), work.live);
      work.event = undefined;
      work.token = undefined;
      try {
        return await this.processOrAbandon(work);
      } catch (next) {
        error = next;
      }
    }
  }

  /**
   * A source record when nothing but the handler runs (no decoder, no idempotency store, no key parking, no
   * age limit): the same steps as {@link processOrAbandon} with none of them, as a plain promise chain that
   * holds no suspended async frame while the handler runs.
   */
  private handlePlain(work: Work<T>): Promise<RecordOutcome> {
    const { record } = work;
    const event = createHandledEvent<T>(work.origin, record, record.value as T, work.eventId, recordHeader(record, headerNames.eventType));
    work.event = event;
    return this.attempts.run(event, work.retry.attempts, work.live.signal, this.hooks, work, record).then((result) => {
      if (!result.ok) return this.route(work, result, undefined, undefined);
      this.reportHandled(work, result);
      this.keep(record, result.emitted);
      return 'handled';
    });
  }

  private workOf(record: ConsumedRecord, live: RecordLiveness): Work<T> {
    const retry = record.retry;
    const now = Date.now();
    // A source record is its own origin (same topic, partition, offset and timestamp): no object per record.
    const origin: RecordOrigin =
      record.tier > 0 ? { topic: record.sourceTopic, partition: record.partition, offset: retry.originalOffset ?? record.offset, timestamp: retry.originalTimestamp ?? record.timestamp } : record;
    const given = recordHeader(record, headerNames.eventId);
    const eventId = given && given.length <= maxEventIdLength ? given : `${origin.topic}:${origin.partition}:${origin.offset}`;
    // Every field a record's processing sets later is here from the start: none added after (an added one
    // would give each Work a separate property array).
    return {
      record,
      live,
      startedAt: performance.now(),
      tier: record.tier,
      retry,
      firstFailureAt: retry.firstFailureAt ?? now,
      origin,
      eventId,
      owner: live.owner ?? this.deps.fencingToken(),
      event: undefined,
      token: undefined,
      sink: undefined,
      waitingKey: undefined,
    };
  }

  private async processOrAbandon(work: Work<T>): Promise<RecordOutcome> {
    const { record } = work;
    if (record.delay?.kind === 'cancel') return this.recordCancel(work, record.delay.cancels);
    // 1. decode (and the checks that need no handler: a key, an age)
    const decoded = await this.decode(work);
    // 2. parking gate
    const parking = this.options.ordering === 'none' || !hasKey(record) ? undefined : this.deps.parking;
    let parked = parking ? await this.durably(work, () => parking.stateOf(this.parkingRef(work))) : undefined;
    if ('reason' in decoded) return this.deadLetter(work, parked, decoded.reason, decoded.error);
    const event = createHandledEvent<T>(work.origin, record, decoded.value, work.eventId, recordHeader(record, headerNames.eventType));
    work.event = event;
    if (parked?.held) return this.behindHeldKey(work, parked);
    if (parked && parked.queue[0] !== event.eventId) {
      const followed = await this.followHead(work, parked);
      if (typeof followed === 'string') return followed;
      parked = followed.head; // back in the queue as its head (or the key was unparked meanwhile): handle it now
    }
    // 2b. delay gate (consumers/delays/): not due yet -> a delay level, its key parked behind it; cancelled -> skipped
    if (record.delay !== undefined) {
      const delayed = await this.delayGate(work, parked);
      if (delayed) return delayed;
    }

    // 3. claim
    const store = this.options.idempotencyStore;
    if (store) {
      const claim = await this.claim(work);
      if (claim === 'done') {
        this.deps.events.emit('consumer.record.skipped-duplicate', reference(record));
        if (parked) await this.changeParking(work, (current) => current && parkingAfterHead(current, event.eventId));
        return 'duplicate';
      }
      if (claim === 'conflict') return this.deadLetter(work, parked, 'id-conflict', undefined);
      work.token = claim;
    }

    // 4. attempts
    let result: AttemptsResult;
    try {
      result = await this.attempts.run(event, work.retry.attempts, work.live.signal, this.hooks, work, record);
    } catch (error) {
      // Abandoned mid-retry: give the claim up so the next owner need not wait out the lease.
      if (store && work.token) await store.release(event.eventId, work.token).catch(() => undefined);
      if (error instanceof ClaimLost) {
        // The lease ran out between attempts: stop retrying, and start over; the store says done or claims again.
        this.deps.logger.warn({ ...logFields(work), status: 'fenced', claim: error.message }, 'claim lost between attempts; retry stopped');
        this.deps.events.emit('consumer.record.fenced', reference(record));
        work.token = undefined;
        return this.processOrAbandon(work);
      }
      throw error;
    }
    if (result.ok) {
      this.reportHandled(work, result);
      const token = work.token;
      if (result.emitted !== undefined && result.emitted.length > 0) {
        // Its emits wait for its shard's transaction: the done marker is written once that committed, never
        // before (a marker without the emits committed would skip the redelivered record, and its emits be lost).
        this.keep(record, result.emitted, store && token ? { store, token, work } : undefined);
        if (parked) await this.changeParking(work, (current) => current && parkingAfterHead(current, event.eventId));
        return 'handled';
      }
      if (store && token) work.sink?.handlerDone?.(record);
      let outcome: RecordOutcome = 'handled';
      if (store && token && (await this.durably(work, () => store.complete(event.eventId, token, event.payloadHash))) === 'fenced') {
        this.deps.logger.warn({ ...logFields(work), status: 'fenced' }, 'claim lost before completion; completing it again');
        this.deps.events.emit('consumer.record.fenced', reference(record));
        await this.completeAfterFence(work);
        outcome = 'fenced';
      }
      // Handled, and done in the store: the key's queue moves on (a fenced completion too, or the key waits forever).
      if (parked) await this.changeParking(work, (current) => current && parkingAfterHead(current, event.eventId));
      return outcome;
    }

    // 5. route
    return this.route(work, result, parked, work.token);
  }

  /** The handler failed (every attempt here): up the retry ladder, or to the DLT, as the failure router decides. */
  private async route(work: Work<T>, result: AttemptsFailed, parked: ParkedKey | undefined, token: string | undefined): Promise<RecordOutcome> {
    const { record } = work;
    const event = work.event!;
    const store = this.options.idempotencyStore;
    const parking = this.options.ordering === 'none' || !hasKey(record) ? undefined : this.deps.parking;
    if (store && token && !(await this.stillClaimed(work, token))) {
      // The lease ran out and another holder took the event (or completed it): a forward or dead letter now would
      // copy an event that is someone else's. Start over: the store says done, or claims it again.
      this.deps.logger.warn({ ...logFields(work), status: 'fenced' }, 'claim lost before the failure was routed; not forwarded');
      this.deps.events.emit('consumer.record.fenced', reference(record));
      work.token = undefined;
      return this.processOrAbandon(work);
    }
    const attemptsSoFar = work.retry.attempts + result.attempts;
    const decision = decideRetry(
      { error: result.error, attemptsSoFar, currentTier: work.retry.level, failedAt: Date.now(), timedOut: result.timedOut, hung: result.hung },
      { tiersMs: this.options.retryTiersMs, maxAttempts: this.options.maxAttempts, jitter: this.options.retryJitter, isRetryable: this.options.isRetryable },
    );
    if (decision.kind === 'tier') {
      let parkedNow = parked;
      if (parking) parkedNow = await this.changeParking(work, parkingChanges.headOnTier(event.eventId, decision.tier, work.origin.offset, Date.now(), decision.dueAt));
      const failure: ForwardFailure = { attempt: attemptsSoFar, firstFailureAt: work.firstFailureAt, error: result.error, dueAt: decision.dueAt, tier: decision.tier, level: decision.tier };
      const sent = await this.publisher.publish(retryTopicOf(work.origin.topic, this.options.groupId, decision.tier), record, failure, work.origin, this.publishContext(work));
      if (sent.kind === 'reduced') return this.afterDeadLetter(work, parkedNow, 'forward-rejected', result.error, attemptsSoFar, token);
      if (store && token) await store.release(event.eventId, token).catch(() => undefined);
      this.deps.events.emit('consumer.record.retried', { ...reference(record), tier: decision.tier });
      this.deps.logger.warn({ ...logFields(work), attempt: attemptsSoFar, status: `retry-tier-${decision.tier}`, err: errorSummary(result.error) }, 'handler failed; sent up the retry ladder');
      return 'forwarded';
    }
    return this.deadLetter(work, parked, decision.reason, decision.error ?? result.error, attemptsSoFar, token);
  }

  /**
   * An event of a held key goes to the DLT as `predecessor-dead-lettered`, claimed first: a copy of an event done
   * already (the held head itself, or a successor, redelivered after a rebalance or a crash) is skipped, and the
   * dead letter gets its done marker, so a lost write of the queue's advance cannot make the key wait on it.
   */
  private async behindHeldKey(work: Work<T>, parked: ParkedKey): Promise<RecordOutcome> {
    const store = this.options.idempotencyStore;
    if (!store) return this.deadLetter(work, parked, 'predecessor-dead-lettered', undefined);
    const claim = await this.claim(work);
    if (claim === 'done') {
      this.deps.events.emit('consumer.record.skipped-duplicate', reference(work.record));
      if (parked.queue.includes(work.eventId)) await this.changeParking(work, (current) => current && parkingAfterHead(current, work.eventId));
      return 'duplicate';
    }
    if (claim === 'conflict') return this.deadLetter(work, parked, 'id-conflict', undefined);
    work.token = claim;
    return this.deadLetter(work, parked, 'predecessor-dead-lettered', undefined, work.retry.attempts, claim);
  }

  /**
   * A successor of a parked key: it waits on the head's tier, behind the head, in order. Returns `{ head }` when
   * the record is to be handled now: it went back into the queue as its head, or the key was unparked meanwhile.
   */
  private async followHead(work: Work<T>, parked: ParkedKey): Promise<RecordOutcome | { head: ParkedKey | undefined }> {
    const { eventId } = work;
    if (!parked.queue.includes(eventId)) {
      if (work.tier > 0) {
        // On the ladder but not in the queue: a copy left by a crash (handled or dead-lettered already), or an id
        // the queue lost (a Redis write lost, a racing write). Parking state alone never skips it: ask the store.
        const settled = await this.settledElsewhere(work, parked);
        if (settled) return settled;
        this.deps.logger.warn({ ...logFields(work), status: 'requeued' }, "retry-tier event missing from its key's parking queue and not done; put back in offset order");
      }
      const state = await this.changeParking(work, parkingChanges.follow(eventId, work.origin.offset));
      if (!state || state.queue[0] === eventId) return { head: state };
      parked = state;
    }
    // A head that is settled already never comes back (the write that advanced past it was lost): move past it.
    for (let head = parked.queue[0]; head !== undefined && head !== eventId && (await this.isSettled(work, head)); head = parked.queue[0]) {
      this.deps.logger.warn({ ...logFields(work), head, status: 'head-settled' }, "parked key's head is settled already (a lost parking write); the queue moves past it");
      const state = await this.changeParking(work, (current) => (current && current.queue[0] === head ? parkingAfterHead(current, head) : current));
      if (!state || state.queue[0] === eventId) return { head: state };
      parked = state;
    }
    const wait = this.deps.delays?.behindHead(work.origin.topic, parked.headTier) ?? { topic: retryTopicOf(work.origin.topic, this.options.groupId, parked.headTier), delayMs: this.options.retryTiersMs[parked.headTier - 1] ?? 0 };
    const failure: ForwardFailure = { attempt: work.retry.attempts, firstFailureAt: work.firstFailureAt, dueAt: successorDueAt(parked, wait.delayMs, Date.now()), tier: parked.headTier, level: work.retry.level };
    const sent = await this.publisher.publish(wait.topic, work.record, failure, work.origin, this.publishContext(work));
    if (sent.kind === 'reduced') return this.afterDeadLetter(work, parked, 'forward-rejected', undefined, work.retry.attempts, undefined);
    this.deps.events.emit('consumer.record.retried', { ...reference(work.record), tier: parked.headTier });
    return 'forwarded';
  }

  /**
   * A delayed event that is its key's head (or whose key is not parked): not due yet, it goes to the delay level
   * that fits what is left, and its key parks behind it like behind a retry (successors follow it there); due
   * within the hold horizon (the intake holds those, so only after a clock step), it waits here. Due, it is looked
   * up in the group's cancellations: cancelled, it is skipped and its key's queue moves on. Undefined: handle it.
   */
  private async delayGate(work: Work<T>, parked: ParkedKey | undefined): Promise<RecordOutcome | undefined> {
    const { record, eventId } = work;
    if (record.delay?.kind !== 'delayed') return undefined;
    const delays = this.deps.delays;
    for (let remaining = record.delay.deliverAt - Date.now(); remaining > 0; remaining = record.delay.deliverAt - Date.now()) {
      const wait = delays?.levelFor(work.origin.topic, remaining);
      if (!wait) {
        await this.pause(Math.min(remaining, maxTimerMs), work.live); // never early (and never a timer Node cuts to 1 ms)
        continue;
      }
      // Cancelled meanwhile: skipped at this check, so its key (parked behind it) moves on now, not at the old due time.
      if (await this.isCancelled(work)) return this.skipCancelled(work, parked);
      const parking = this.options.ordering === 'none' || !hasKey(record) ? undefined : this.deps.parking;
      let parkedNow = parked;
      if (parking) parkedNow = await this.changeParking(work, parkingChanges.headOnTier(eventId, wait.tier, work.origin.offset, Date.now()));
      const failure: ForwardFailure = { attempt: work.retry.attempts, firstFailureAt: work.firstFailureAt, dueAt: Date.now() + wait.delayMs, tier: wait.tier, level: work.retry.level };
      const sent = await this.publisher.publish(wait.topic, record, failure, work.origin, this.publishContext(work));
      if (sent.kind === 'reduced') return this.afterDeadLetter(work, parkedNow, 'forward-rejected', undefined, work.retry.attempts, undefined);
      if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ ...logFields(work), status: 'delayed', dueInMs: remaining, delayTopic: wait.topic }, 'delayed event sent to a delay level');
      return 'forwarded';
    }
    if (await this.isCancelled(work)) return this.skipCancelled(work, parked);
    return undefined;
  }

  /** Whether the group's cancellations name the event (false without a store). */
  private isCancelled(work: Work<T>): Promise<boolean> {
    const cancellations = this.deps.delays?.cancellations;
    return cancellations ? this.durably(work, () => cancellations.isCancelled(work.eventId)) : Promise.resolve(false);
  }

  /** A cancelled delayed event: not handled, and its key's queue moves past it. */
  private async skipCancelled(work: Work<T>, parked: ParkedKey | undefined): Promise<RecordOutcome> {
    if (parked) await this.changeParking(work, (current) => current && parkingAfterHead(current, work.eventId));
    this.deps.logger.info({ ...logFields(work), status: 'cancelled' }, 'delayed event cancelled before its due time; not handled');
    return 'cancelled';
  }

  /** A cancel record (`producer.cancel`): the cancellation is stored at once, whatever its key waits on; never handled. */
  private async recordCancel(work: Work<T>, cancels: string): Promise<RecordOutcome> {
    const cancellations = this.deps.delays?.cancellations;
    if (!cancellations) {
      this.deps.logger.warn({ ...logFields(work), cancels, status: 'ignored' }, 'cancel record ignored: this consumer has no cancellationStore');
      return 'cancelled';
    }
    await this.durably(work, () => cancellations.cancel(cancels));
    this.deps.logger.info({ ...logFields(work), cancels, status: 'cancel-recorded' }, 'cancellation of a delayed event recorded');
    return 'cancelled';
  }

  /** Dead-letters the event, then its key's parking queue advances past it (see {@link afterDeadLetter}). */
  private async deadLetter(work: Work<T>, parked: ParkedKey | undefined, reason: DeadLetterReason, error: unknown, attempt = work.retry.attempts, token?: string): Promise<RecordOutcome> {
    const failure: ForwardFailure = { reason, attempt, firstFailureAt: work.firstFailureAt, error };
    const sent = await this.publisher.publish(deadLetterTopicOf(work.origin.topic, this.options.groupId), work.record, failure, work.origin, this.publishContext(work));
    return this.afterDeadLetter(work, parked, sent.kind === 'reduced' ? 'forward-rejected' : reason, error, attempt, token);
  }

  /**
   * The event is in the DLT: its key's queue advances past it, and under `onDeadLetter: 'hold'` the key is held
   * when the event was its head (or the key was not parked and the event failed on its own).
   */
  private async afterDeadLetter(work: Work<T>, parked: ParkedKey | undefined, reason: DeadLetterReason, error: unknown, attempt: number, token: string | undefined): Promise<RecordOutcome> {
    this.deps.events.emit('consumer.record.dead-lettered', { ...reference(work.record), reason });
    this.deps.logger.error({ ...logFields(work), attempt, status: 'dead-lettered', reason, err: errorSummary(error) }, 'event dead-lettered');
    const parking = this.options.ordering === 'none' || !hasKey(work.record) ? undefined : this.deps.parking;
    if (parking) {
      const isHead = parked ? parked.queue[0] === work.eventId && !parked.held : ownFailures.has(reason);
      const hold = this.options.onDeadLetter === 'hold' && isHead;
      // Applied to the state as it is now (compare-and-set): a change made meanwhile is kept.
      if (parked || hold) await this.changeParking(work, (current) => parkingAfterDeadLetter(current, work.eventId, { hold, now: Date.now() }) ?? current);
    }
    const store = this.options.idempotencyStore;
    const event = work.event;
    if (store && token && event && (await this.durably(work, () => store.complete(event.eventId, token, event.payloadHash, { deadLettered: true }))) === 'fenced') {
      // The claim ran out before the dead letter was marked: mark it again, or a redelivered copy is handled too.
      this.deps.logger.warn({ ...logFields(work), status: 'fenced' }, 'claim lost before the dead letter was marked; marking it again');
      this.deps.events.emit('consumer.record.fenced', reference(work.record));
      await this.completeAfterFence(work, { deadLettered: true });
    }
    return 'dead-lettered';
  }

  /** The value, or why the record goes to the DLT unhandled: no key, too old, or it does not decode. */
  private async decode(work: Work<T>): Promise<{ value: T } | Rejection> {
    const { record } = work;
    if (this.options.ordering !== 'none' && !hasKey(record)) return { reason: 'missing-key' };
    if (this.options.maxEventAgeMs !== undefined && work.tier === 0 && !(Number(recordHeader(record, headerNames.replayCount) ?? 0) > 0) && ageOf(record) > this.options.maxEventAgeMs) {
      // Load shedding: too old to be worth handling now. Kept in the DLT, replayable.
      return { reason: 'expired' };
    }
    const decoder = this.options.decoder;
    if (!decoder) return { value: record.value as T };
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await decoder.decode(record.value, work.origin) };
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
    const event = work.event!;
    const ahead = this.ahead?.take(work.record);
    if (ahead && ahead.eventId === event.eventId) {
      event.payloadHash = ahead.payloadHash; // hashed when the claim was taken: not again
      const result = await ahead.result;
      if (result?.status === 'claimed' && this.ahead!.isFresh(ahead, this.claimNeedsMs)) return ahead.token;
      if (result === undefined || result.status === 'claimed') {
        // Queued for long (the lease counts from now), or the call failed (Redis may hold it, the reply lost):
        // claim again with the same token, which is this record's own claim, never another holder's.
        const again = await this.durably(work, () => store.claim({ eventId: ahead.eventId, payloadHash: ahead.payloadHash, fencingToken: ahead.token, leaseMs: this.options.leaseMs }));
        if (again.status !== 'busy') return again.status === 'claimed' ? again.token : again.status;
      }
      // Anything else is asked again below, as if no claim had been taken ahead.
    }
    const { eventId, payloadHash } = event;
    let waitingSince: number | undefined;
    try {
      return await this.claimLoop(work, eventId, payloadHash, (busy) => {
        waitingSince ??= (this.claimWaiting(work, busy), Date.now());
      });
    } finally {
      if (waitingSince !== undefined) this.claimWaitOver(work, Date.now() - waitingSince);
    }
  }

  /** Claims until the store answers anything but `busy` (`onBusy` told of each busy answer). */
  private async claimLoop(work: Work<T>, eventId: string, payloadHash: string, onBusy: (busy: { retryAfterMs: number; holder?: string }) => void): Promise<string | 'done' | 'conflict'> {
    const store = this.options.idempotencyStore!;
    for (;;) {
      // Fenced per claim: another claim of this member and assignment (a second copy of the event) is another holder.
      const fencingToken = `${work.owner}/${++this.claims}`;
      // A claim this instance took ahead for the event and dropped unused (a restart, a rebalance) is its own.
      const takeOver = this.ahead?.droppedTokenOf(eventId);
      const result = await this.durably(work, () => store.claim({ eventId, payloadHash, fencingToken, leaseMs: this.options.leaseMs, takeOver }));
      if (result.status === 'busy') {
        onBusy(result);
        await this.pause(Math.min(result.retryAfterMs, 1_000), work.live);
        continue;
      }
      if (takeOver !== undefined && result.status === 'claimed') this.ahead!.claimed(eventId);
      return result.status === 'claimed' ? result.token : result.status;
    }
  }

  /**
   * Another holder leases the record's event (a member that died or lost the partition): the record waits for
   * the release or the lease's end, never silently. One event per wait (the metric); one warning per key while
   * its wait lasts, so a dead member's many leases on one key are one line, not one per record.
   */
  private claimWaiting(work: Work<T>, busy: { retryAfterMs: number; holder?: string }): void {
    const { record } = work;
    this.deps.events.emit('consumer.claim.waiting', { ...reference(record), retryAfterMs: busy.retryAfterMs, holder: busy.holder });
    const key = `${record.partitionId}\u0000${record.key?.toString('latin1') ?? ''}`;
    if (this.waitingKeys.has(key)) return;
    if (this.waitingKeys.size >= maxWaitingKeys) this.waitingKeys.clear();
    this.waitingKeys.add(key);
    work.waitingKey = key;
    this.deps.logger.warn(
      { ...logFields(work), holder: busy.holder, leaseLeftMs: busy.retryAfterMs },
      'waiting for an idempotency claim another holder still leases (a dead or revoked member): the record starts when it is released or its lease ends',
    );
  }

  /** The wait is over (claimed, done, or the record abandoned): the key may warn again. */
  private claimWaitOver(work: Work<T>, waitedMs: number): void {
    if (work.waitingKey === undefined) return;
    this.waitingKeys.delete(work.waitingKey);
    work.waitingKey = undefined;
    this.deps.logger.info({ ...logFields(work), waitedMs }, 'the wait for another holder\'s idempotency claim is over');
  }

  /**
   * `transactional`: keeps the emits of the attempt that succeeded with its record, for its shard's transaction.
   * With a claim, the done marker is written once that transaction committed, and the claim given back if the
   * emits are dropped uncommitted (the record then comes again, and must find its event not done).
   */
  private keep(record: ConsumedRecord, emitted: EncodedRecord[] | undefined, claim?: { store: IdempotencyStore; token: string; work: Work<T> }): void {
    if (emitted === undefined || emitted.length === 0) return;
    if (!claim) {
      record.emits = { records: emitted };
      return;
    }
    const { store, token, work } = claim;
    const { eventId, payloadHash } = work.event!;
    record.emits = {
      records: emitted,
      committed: async () => {
        try {
          if ((await this.durably(work, () => store.complete(eventId, token, payloadHash))) === 'fenced') {
            this.deps.logger.warn({ ...logFields(work), status: 'fenced' }, 'claim lost before the done marker was written after its transaction; completing it again');
            await this.completeAfterFence(work);
          }
        } catch (error) {
          if (!(error instanceof RecordAbandoned)) throw error;
        }
      },
      dropped: () => void store.release(eventId, token).catch(() => undefined),
    };
  }

  private reportHandled(work: Work<T>, result: { attempts: number; durationMs: number }): void {
    const { record } = work;
    const attempt = work.retry.attempts + result.attempts;
    if (this.deps.events.listenerCount('consumer.record.handled') > 0) {
      const occurredAt = Date.parse(recordHeader(record, headerNames.occurredAt) ?? '');
      this.deps.events.emit('consumer.record.handled', { ...reference(record), durationMs: result.durationMs, attempt, occurredAt: Number.isFinite(occurredAt) ? occurredAt : undefined });
    }
    if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ ...logFields(work), attempt, status: 'handled' }, 'event handled');
  }

  private keyOf(work: Work<T>): string {
    return work.event?.key ?? work.record.key?.toString('utf8') ?? '';
  }

  /**
   * A retry-tier copy missing from its key's queue: settled when the idempotency store says the event is done
   * (`'duplicate'`) or conflicts (dead-lettered); undefined when it is not done (the claim taken to ask is given
   * back) or there is no store to ask.
   */
  private async settledElsewhere(work: Work<T>, parked: ParkedKey): Promise<RecordOutcome | undefined> {
    const store = this.options.idempotencyStore;
    if (!store) return undefined;
    const claim = await this.claim(work);
    if (claim === 'done') {
      this.deps.events.emit('consumer.record.skipped-duplicate', reference(work.record));
      return 'duplicate';
    }
    if (claim === 'conflict') return this.deadLetter(work, parked, 'id-conflict', undefined);
    await store.release(work.eventId, claim).catch(() => undefined);
    return undefined;
  }

  /**
   * The handler succeeded but the claim was lost before completion (its lease ran out, e.g. during a Redis
   * outage longer than the lease): claim again (waiting out another holder's lease) and complete, until the
   * store says the event is done, so the key's queue can move on.
   */
  private async completeAfterFence(work: Work<T>, outcome = { deadLettered: false }): Promise<void> {
    const store = this.options.idempotencyStore!;
    const { eventId, payloadHash } = work.event!;
    for (;;) {
      const claim = await this.claim(work);
      if (claim === 'done' || claim === 'conflict') return;
      if ((await this.durably(work, () => store.complete(eventId, claim, payloadHash, outcome))) === 'completed') return;
    }
  }

  /** Renews the claim held with `token`: false when it is lost (another holder took the event, or completed it). */
  private async stillClaimed(work: Work<T>, token: string): Promise<boolean> {
    const store = this.options.idempotencyStore!;
    const { eventId, payloadHash } = work.event!;
    const renewed = await this.durably(work, () => store.claim({ eventId, payloadHash, fencingToken: token, leaseMs: this.options.leaseMs }));
    return renewed.status === 'claimed';
  }

  /** Whether the idempotency store knows `eventId` as done (false without a store that can say). */
  private isSettled(work: Work<T>, eventId: string): Promise<boolean> {
    const store = this.options.idempotencyStore;
    if (!store?.isSettled) return Promise.resolve(false);
    return this.durably(work, () => store.isSettled!(eventId));
  }

  private parkingRef(work: Work<T>): ParkingRef {
    return { topic: work.origin.topic, partition: work.record.partition, key: this.keyOf(work), owner: work.owner };
  }

  /** Changes the key's parking state (fenced by the record's assignment); a fenced write is retried until the record is abandoned. */
  private changeParking(work: Work<T>, change: ParkingChange): Promise<ParkedKey | undefined> {
    const parking = this.deps.parking!;
    const ref = this.parkingRef(work);
    return this.durably(work, () => parking.change(ref, change));
  }

  private publishContext(work: Work<T>) {
    return { pause: (ms: number) => this.pause(ms, work.live), logFields: logFields(work) };
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

/**
 * Claims taken ahead, at most: the records about to start, one per handler slot, and at least 16 (claimed in
 * calls of half that). Each claim ahead is a lease a member that crashes leaves behind for the next owner to
 * wait out (loudly): about as many as the records it had in flight anyway, not the whole fetch.
 */
const claimAheadPerSlot = 1;
const claimAheadWindowMin = 16;

/** Keys whose wait for another holder's claim logged a warning, at most (then forgotten: they may warn again). */
const maxWaitingKeys = 10_000;

/** A source record's event id, as {@link RecordProcessor} names it: `orderly-event-id` (bounded), else its coordinates. */
function sourceEventIdOf(record: ConsumedRecord): string {
  const given = recordHeader(record, headerNames.eventId);
  return given && given.length <= maxEventIdLength ? given : `${record.topic}:${record.partition}:${record.offset}`;
}

/** Dead-letter reasons that are the event's own failure (an unparked key is held for them under 'hold'). */
const ownFailures: ReadonlySet<DeadLetterReason> = new Set(['retries-exhausted', 'non-retryable', 'handler-timeout', 'id-conflict', 'forward-rejected', 'unknown-event-type']);

function hasKey(record: ConsumedRecord): boolean {
  return record.key !== null && record.key.length > 0;
}

/**
 * Milliseconds since the event occurred (`orderly-occurred-at`), else since the broker stored it; for a delayed
 * event, since its due time when that is later: a delay is no backlog (an event delayed a day is not a day old
 * when it comes due, and `maxEventAgeMs` would dead-letter every delay longer than itself as expired).
 */
function ageOf(record: ConsumedRecord): number {
  const occurredAt = Date.parse(recordHeader(record, headerNames.occurredAt) ?? '');
  const since = Number.isFinite(occurredAt) ? occurredAt : Number(record.timestamp);
  return Date.now() - (record.delay?.kind === 'delayed' ? Math.max(since, record.delay.deliverAt) : since);
}

function reference(record: ConsumedRecord) {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** The fixed fields of docs/guarantees.md for a record's log lines: never its payload. */
function logFields(work: Work<unknown>) {
  return {
    eventId: work.eventId,
    eventType: work.event?.eventType ?? recordHeader(work.record, headerNames.eventType),
    key: work.record.key?.toString('utf8') ?? null,
    topic: work.record.topic,
    partition: work.record.partition,
    offset: work.record.offset,
    durationMs: Math.round(performance.now() - work.startedAt),
  };
}
