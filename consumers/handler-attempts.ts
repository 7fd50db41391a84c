/**
 * Runs a handler for one event: up to `1 + inPlaceRetries` attempts with jittered backoff, each cut at
 * `handlerTimeoutMs` (its AbortSignal fires). Never two attempts of one event at once: an attempt that timed
 * out and has not settled blocks the next one for up to another `handlerTimeoutMs`, and then the event is
 * given up as hung (it goes to the DLT as `handler-timeout`, with no further attempt anywhere).
 *
 * Cheap per attempt: every attempt has the same timeout, so deadlines come in start order and one timer, set
 * for the earliest, serves all of them ({@link AttemptDeadlines}); an attempt's AbortController is created only
 * when its handler reads `context.signal`; the consumer's stop signal is listened to once, not per attempt.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../core/errors.ts';
import type { EncodedRecord, PublishedEvent } from '../producers/outgoing-event.ts';
import { AttemptEmits, emitWithoutProducer, lateEmitError, type EmitEncoder, type EmittedEvent, type EmitSettings } from './emit/attempt-emits.ts';
import { EmitBatcher } from './emit/emit-batcher.ts';
import type { ConsumerEventEmitter } from './events.ts';
import type { HandledEvent, HandlerContext, ValidOrderedConsumerOptions } from './options.ts';
import { backoffDelayMs } from './retries/backoff.ts';
import { describe, isRetryableError } from './retries/failure-router.ts';

export type AttemptsResult =
  /** `emitted`: with `transactional`, the emits of the attempt that succeeded, in call order (none sent yet). */
  | { ok: true; attempts: number; durationMs: number; emitted?: EncodedRecord[] }
  | { ok: false; attempts: number; error: unknown; timedOut: boolean; hung: boolean };

/** What the attempts need of their caller; `work` is passed back as given (no closure per event). */
export interface AttemptHooks<W> {
  /** Waits between attempts; throws to abandon (partition revoked, consumer stopping). */
  pause(work: W, ms: number): Promise<void>;
  /** Before each attempt after the first (renews the idempotency lease). */
  beforeRetry(work: W): Promise<void>;
}

/** How the record is named in events: as consumed (a retry tier's own topic and offset). */
interface RecordRef {
  topic: string;
  partition: number;
  offset: string;
}

export type Outcome = { ok: true } | { ok: false; error: unknown } | 'timeout';

/** A first attempt started by {@link HandlerAttempts.startFirst}. */
export type FirstAttempt = Omit<Started, 'outcome'>;

/** One attempt started. */
interface Started {
  startedAt: number;
  context: AttemptContext;
  /** The handler's own promise (it may run on after a timeout). */
  running: Promise<unknown>;
  outcome: Promise<Outcome>;
}
const succeeded: Outcome = { ok: true };

/** The context a handler gets: its AbortController is made on the first read of `signal`, its emits on the first emit. */
class AttemptContext implements HandlerContext {
  readonly attempt: number;
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;
  private readonly emitSettings: EmitSettings;
  private readonly eventId: string;
  emits: AttemptEmits | undefined;
  private boundEmit: HandlerContext['emit'] | undefined;
  /** The attempt has an outcome (settled, or timed out): an emit now is refused, emitted before or not. */
  private over = false;

  constructor(attempt: number, emitSettings: EmitSettings, eventId: string) {
    this.attempt = attempt;
    this.emitSettings = emitSettings;
    this.eventId = eventId;
  }

  /** Bound on first read, so `async (event, { emit }) => ...` works; a handler that never reads it costs nothing. */
  get emit(): HandlerContext['emit'] {
    return (this.boundEmit ??= (topic, key, event) => this.emitEvent(topic, key, event));
  }

  private emitEvent<V>(topic: string, key: string, event: EmittedEvent<V>): Promise<PublishedEvent> {
    const { producer, groupId } = this.emitSettings;
    if (!producer) return emitWithoutProducer(topic);
    if (this.over) throw lateEmitError(topic);
    return (this.emits ??= new AttemptEmits(producer, groupId, this.eventId, this.emitSettings.encoder)).emit(topic, key, event);
  }

  /** The attempt has its outcome: later emits are refused (consumers/emit/attempt-emits.ts). */
  end(): void {
    this.over = true;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** A failed attempt still waits for its emits (none may land after it is retried), then fails with its own error. */
async function settleThenThrow(context: AttemptContext, error: unknown): Promise<never> {
  await context.emits?.settled().catch(() => undefined);
  throw error;
}

/**
 * A first attempt started by {@link HandlerAttempts.startFirst}: the attempt, its node in the deadline list and
 * the caller's callback in one object, so a record's first attempt costs no object or closure beyond it and
 * the two reactions on the handler's promise.
 */
class FirstRun<W> implements Running, FirstAttempt {
  readonly startedAt: number;
  readonly context: AttemptContext;
  running: Promise<unknown>;
  deadline = 0;
  previous: Running | undefined = undefined;
  next: Running | undefined = undefined;
  private done = false;
  private readonly settled: (outcome: Outcome, first: FirstAttempt, work: W) => void;
  private readonly work: W;
  private readonly deadlines: AttemptDeadlines;

  constructor(startedAt: number, context: AttemptContext, settled: (outcome: Outcome, first: FirstAttempt, work: W) => void, work: W, deadlines: AttemptDeadlines) {
    this.startedAt = startedAt;
    this.context = context;
    this.running = noPromise;
    this.settled = settled;
    this.work = work;
    this.deadlines = deadlines;
  }

  /** Settled or timed out, whichever first: the attempt is over, and its context emits no more. */
  settle(outcome: Outcome): void {
    if (this.done) return;
    this.done = true;
    this.context.end();
    this.settled(outcome, this, this.work);
  }

  /** The handler's promise settled (before its deadline, or after: then {@link settle} ignores it). */
  handlerSettled(outcome: Outcome): void {
    this.deadlines.remove(this);
    this.settle(outcome);
  }
}

const noPromise: Promise<unknown> = Promise.resolve();

/** One attempt running: a node of the deadline list, in start order. */
interface Running {
  deadline: number;
  context: AttemptContext;
  settle: (outcome: Outcome) => void;
  previous: Running | undefined;
  next: Running | undefined;
}

/**
 * The attempts running, in deadline order (all share one timeout, so that is start order), in a doubly linked
 * list: added at the tail, removed anywhere in O(1). One timer is set for the head's deadline.
 */
class AttemptDeadlines {
  private head: Running | undefined;
  private tail: Running | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  add(context: AttemptContext, settle: (outcome: Outcome) => void): Running {
    return this.append({ deadline: 0, context, settle, previous: undefined, next: undefined });
  }

  /** Adds `node` at the tail, its deadline from now. */
  append<N extends Running>(node: N): N {
    node.deadline = performance.now() + this.timeoutMs;
    node.previous = this.tail;
    node.next = undefined;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.timer ??= setTimeout(() => this.expire(), this.timeoutMs);
    return node;
  }

  remove(node: Running): void {
    if (node.previous) node.previous.next = node.next;
    else if (this.head === node) this.head = node.next;
    else return; // removed already
    if (node.next) node.next.previous = node.previous;
    else this.tail = node.previous;
    node.previous = node.next = undefined;
    if (!this.head && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Aborts every attempt running (the consumer stops); they still run until they settle or time out. */
  abortAll(reason: unknown): void {
    for (let node = this.head; node; node = node.next) node.context.abort(reason);
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head && this.head.deadline <= now) {
      const node = this.head;
      this.remove(node);
      node.settle('timeout');
    }
    if (this.head) this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(this.head.deadline - now)));
  }
}

export class HandlerAttempts<T> {
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly events: ConsumerEventEmitter;
  /** Attempts that timed out and still run, by event id. */
  private readonly unsettled = new Map<string, Promise<unknown>>();
  private readonly deadlines: AttemptDeadlines;
  private readonly stopSignals = new WeakSet<AbortSignal>();
  private readonly emitSettings: EmitSettings;

  /** `encoder`: with `transactional`, emits are encoded and kept with their attempt (consumers/transactions/). */
  constructor(options: ValidOrderedConsumerOptions<T>, events: ConsumerEventEmitter, encoder?: EmitEncoder) {
    this.options = options;
    this.events = events;
    // Emits of concurrent handlers go out together (consumers/emit/emit-batcher.ts); kept for a transaction, none go out here.
    const producer = !encoder && options.producer && EmitBatcher.canBatch(options.producer) ? new EmitBatcher(options.producer) : options.producer;
    this.emitSettings = encoder ? { producer, groupId: options.groupId, encoder } : { producer, groupId: options.groupId };
    this.deadlines = new AttemptDeadlines(options.handlerTimeoutMs);
  }

  /**
   * `stop` aborts every attempt's signal; `record` names the record as consumed, for the events. The first
   * attempt is a plain promise chain (no suspended async frame while the handler runs); later ones, and a
   * first one that must wait for an earlier timed-out attempt of the event, run in {@link attemptFrom}.
   */
  run<W>(event: HandledEvent<T>, attemptsBefore: number, stop: AbortSignal, hooks: AttemptHooks<W>, work: W, record: RecordRef): Promise<AttemptsResult> {
    this.watch(stop);
    if (this.unsettled.size > 0 && this.unsettled.has(event.eventId)) return this.attemptFrom(undefined, event, attemptsBefore, stop, hooks, work, record);
    const first = this.start(event, attemptsBefore + 1, stop);
    return first.outcome.then((outcome) => {
      if (outcome !== 'timeout' && outcome.ok) return { ok: true, attempts: 1, durationMs: performance.now() - first.startedAt, emitted: keptEmits(first.context) };
      return this.attemptFrom({ started: first, outcome }, event, attemptsBefore, stop, hooks, work, record);
    });
  }

  /**
   * The first attempt of an event, with no promise of its own: `settled` is called once, with the outcome
   * (`{ ok: true }` when the handler succeeded) and `work` as given (one callback for every record, no closure
   * per record), and for any other outcome the caller continues with {@link continueAfter}. False (and nothing
   * started) when an earlier attempt of the event still runs after timing out: use {@link run} then.
   */
  startFirst<W>(event: HandledEvent<T>, attemptsBefore: number, stop: AbortSignal, settled: (outcome: Outcome, first: FirstAttempt, work: W) => void, work: W): boolean {
    this.watch(stop);
    if (this.unsettled.size > 0 && this.unsettled.has(event.eventId)) return false;
    const context = new AttemptContext(attemptsBefore + 1, this.emitSettings, event.eventId);
    const first = new FirstRun(performance.now(), context, settled, work, this.deadlines);
    if (stop.aborted) context.abort(stop.reason);
    let running: Promise<unknown>;
    try {
      running = Promise.resolve(this.options.handler(event, context));
      // With a producer, the attempt settles once its emits are acknowledged (consumers/emit/attempt-emits.ts).
      if (this.emitSettings.producer) running = running.then(() => context.emits?.settled(), (error: unknown) => settleThenThrow(context, error));
    } catch (error) {
      running = Promise.reject(error);
    }
    first.running = running;
    this.deadlines.append(first);
    running.then(
      () => first.handlerSettled(succeeded),
      (error: unknown) => first.handlerSettled({ ok: false, error }),
    );
    return true;
  }

  /** The attempts after a first one from {@link startFirst} that did not succeed. */
  continueAfter<W>(first: FirstAttempt, outcome: Outcome, event: HandledEvent<T>, attemptsBefore: number, stop: AbortSignal, hooks: AttemptHooks<W>, work: W, record: RecordRef): Promise<AttemptsResult> {
    const started: Started = { startedAt: first.startedAt, context: first.context, running: first.running, outcome: Promise.resolve(outcome) };
    return this.attemptFrom({ started, outcome }, event, attemptsBefore, stop, hooks, work, record);
  }

  /** Starts one attempt: the handler runs until it settles or its deadline passes (then the outcome is 'timeout'). */
  private start(event: HandledEvent<T>, attempt: number, stop: AbortSignal): Started {
    const startedAt = performance.now();
    const context = new AttemptContext(attempt, this.emitSettings, event.eventId);
    if (stop.aborted) context.abort(stop.reason);
    let running: Promise<unknown>;
    try {
      running = Promise.resolve(this.options.handler(event, context));
      // With a producer, the attempt settles once its emits are acknowledged (consumers/emit/attempt-emits.ts).
      if (this.emitSettings.producer) running = running.then(() => context.emits?.settled(), (error: unknown) => settleThenThrow(context, error));
    } catch (error) {
      running = Promise.reject(error);
    }
    const outcome = new Promise<Outcome>((resolve) => {
      // Settled or timed out, whichever first: the attempt is over, and its context emits no more.
      const settle = (result: Outcome) => {
        context.end();
        resolve(result);
      };
      const node = this.deadlines.add(context, settle);
      running.then(
        () => {
          this.deadlines.remove(node);
          settle(succeeded);
        },
        (error: unknown) => {
          this.deadlines.remove(node);
          settle({ ok: false, error });
        },
      );
    });
    return { startedAt, context, running, outcome };
  }

  /** The attempts after a failed first one (`first`), or all of them when the first had to wait (no `first`). */
  private async attemptFrom<W>(first: { started: Started; outcome: Outcome } | undefined, event: HandledEvent<T>, attemptsBefore: number, stop: AbortSignal, hooks: AttemptHooks<W>, work: W, record: RecordRef): Promise<AttemptsResult> {
    const { handlerTimeoutMs, inPlaceRetries } = this.options;
    for (let index = 1; ; index++) {
      const attempt = attemptsBefore + index;
      let started: Started;
      let outcome: Outcome;
      if (index === 1 && first) {
        ({ started, outcome } = first);
      } else {
        const previous = this.unsettled.size > 0 ? this.unsettled.get(event.eventId) : undefined;
        if (previous) {
          const settled = await Promise.race([previous.then(() => true), sleep(handlerTimeoutMs, false)]);
          if (!settled) {
            const error = new OrderlyError('HANDLER_TIMEOUT', `the handler ignored its abort signal for ${handlerTimeoutMs} ms after timing out`);
            return { ok: false, attempts: index - 1, error, timedOut: true, hung: true };
          }
          this.unsettled.delete(event.eventId);
        }
        if (index > 1) await hooks.beforeRetry(work);
        started = this.start(event, attempt, stop);
        outcome = await started.outcome;
        if (outcome !== 'timeout' && outcome.ok) return { ok: true, attempts: index, durationMs: performance.now() - started.startedAt, emitted: keptEmits(started.context) };
      }

      let error: unknown;
      const timedOut = outcome === 'timeout';
      if (outcome === 'timeout') {
        error = new OrderlyError('HANDLER_TIMEOUT', `the handler did not finish within handlerTimeoutMs (${handlerTimeoutMs} ms)`, { retriable: true });
        started.context.abort(error);
        const settling = started.running.catch(() => undefined).finally(() => {
          if (this.unsettled.get(event.eventId) === settling) this.unsettled.delete(event.eventId);
        });
        this.unsettled.set(event.eventId, settling);
        this.events.emit('consumer.handler.timed-out', { ...reference(record), attempt, timeoutMs: handlerTimeoutMs });
      } else if (!outcome.ok) {
        error = outcome.error;
      }
      const retryInPlace = index <= inPlaceRetries && attempt < this.options.maxAttempts && isRetryableError(error, this.options.isRetryable);
      this.events.emit('consumer.record.failed', { ...reference(record), attempt, errorType: errorTypeOf(error), willRetry: retryInPlace });
      if (!retryInPlace) return { ok: false, attempts: index, error, timedOut, hung: false };
      await hooks.pause(work, backoffDelayMs(index, { baseMs: this.options.retryBackoffMs, maxMs: this.options.retryBackoffMaxMs, factor: 5 }));
    }
  }

  /** Listens once to a stop signal: it aborts every attempt running then. */
  private watch(stop: AbortSignal): void {
    if (this.stopSignals.has(stop)) return;
    this.stopSignals.add(stop);
    stop.addEventListener('abort', () => this.deadlines.abortAll(stop.reason), { once: true });
  }
}

/** The emits a succeeded attempt kept for its transaction (`transactional`), else undefined. */
export function keptEmits(context: { emits: AttemptEmits | undefined }): EncodedRecord[] | undefined {
  return context.emits?.kept();
}

function reference(record: RecordRef): RecordRef {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

export function errorTypeOf(error: unknown): string {
  if (error instanceof OrderlyError) return error.code;
  if (error === null) return 'null';
  return error instanceof Error ? String(error.name) : typeof error;
}

/** Type and message only: no payload, no stack in a log line. Never throws, whatever was thrown. */
export function errorSummary(error: unknown): { type: string; message: string } | undefined {
  if (error === undefined) return undefined;
  return { type: errorTypeOf(error), message: describe(error) };
}
