/**
 * Where a record goes when it cannot be handled here, decided in one place: another attempt in place, the
 * next retry tier with a jittered due time, or the DLT with a reason, and what that does to its key's parking
 * queue (the hold/release policy). Pure: the processor carries the decision out.
 *
 * `NonRetryableError`, decode errors, `UnknownEventTypeError` (as `unknown-event-type`) and whatever
 * `isRetryable` rejects go straight to the DLT. An
 * `isRetryable` callback that throws is a handler failure too: the event is dead-lettered as `non-retryable`,
 * with the callback's error, never lost and never retried blindly.
 */
import { NonRetryableError, OrderlyError } from '../../core/errors.ts';
import type { DeadLetterReason } from '../dead-letter/reason-codes.ts';
import type { ParkedKey } from './parking-store.ts';

export type RetryDecision =
  | { kind: 'tier'; tier: number; dueAt: number }
  | { kind: 'dead-letter'; reason: DeadLetterReason; /** Set when the decision itself failed (`isRetryable` threw). */ error?: unknown };

export interface RetryPolicyOptions {
  /** Delay of each tier, in ms (tier n waits `tiersMs[n-1]`). Empty: no ladder. */
  tiersMs: readonly number[];
  /** Attempts over every visit, the first included. */
  maxAttempts: number;
  /** Extra delay as a fraction of the tier delay, drawn uniformly from [0, jitter]. @defaultValue 0.1 */
  jitter: number;
  isRetryable?: (error: unknown) => boolean;
}

/** Whether `error` may be retried; an `isRetryable` that throws says no, and its error is returned instead. */
export function retryabilityOf(error: unknown, isRetryable?: (error: unknown) => boolean): { retryable: true } | { retryable: false; callbackError?: unknown } {
  if (error instanceof NonRetryableError) return { retryable: false };
  if (error instanceof OrderlyError && (error.code === 'NON_RETRYABLE' || error.code === 'DECODE' || error.code === 'ID_CONFLICT' || error.code === 'UNKNOWN_EVENT_TYPE')) return { retryable: false };
  if (!isRetryable) return { retryable: true };
  try {
    return isRetryable(error) === true ? { retryable: true } : { retryable: false };
  } catch (thrown) {
    const callbackError = new OrderlyError('NON_RETRYABLE', `isRetryable threw while judging a handler error: ${describe(thrown)}`, { cause: thrown, retriable: false });
    return { retryable: false, callbackError };
  }
}

/** True when `error` may be retried (an `isRetryable` that throws counts as false). */
export function isRetryableError(error: unknown, isRetryable?: (error: unknown) => boolean): boolean {
  return retryabilityOf(error, isRetryable).retryable;
}

/** The next step of an event whose attempts here all failed. */
export function decideRetry(
  { error, attemptsSoFar, currentTier, failedAt, timedOut, hung = false }: { error: unknown; attemptsSoFar: number; currentTier: number; failedAt: number; timedOut: boolean; hung?: boolean },
  options: RetryPolicyOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (hung) return { kind: 'dead-letter', reason: 'handler-timeout' };
  if (error instanceof OrderlyError && error.code === 'ID_CONFLICT') return { kind: 'dead-letter', reason: 'id-conflict' };
  if (error instanceof OrderlyError && error.code === 'UNKNOWN_EVENT_TYPE') return { kind: 'dead-letter', reason: 'unknown-event-type' };
  const retryability = retryabilityOf(error, options.isRetryable);
  if (!retryability.retryable) return { kind: 'dead-letter', reason: 'non-retryable', error: retryability.callbackError };
  const nextTier = currentTier + 1;
  if (nextTier > options.tiersMs.length || attemptsSoFar >= options.maxAttempts) {
    return { kind: 'dead-letter', reason: timedOut ? 'handler-timeout' : 'retries-exhausted' };
  }
  const delay = options.tiersMs[nextTier - 1]!;
  return { kind: 'tier', tier: nextTier, dueAt: failedAt + delay + Math.round(random() * options.jitter * delay) };
}

/**
 * A key's parking state after its event `eventId` left the consumer by the DLT: the queue advances past the
 * event (wherever it stood), and under `onDeadLetter: 'hold'` a head that was dead-lettered for its own
 * failure holds the key. Undefined: the key is not parked (nothing to write).
 */
export function parkingAfterDeadLetter(parked: ParkedKey | undefined, eventId: string, { hold, now }: { hold: boolean; now: number }): ParkedKey | undefined {
  const queue = parked ? parked.queue.filter((id) => id !== eventId) : [];
  if (hold) return { queue, headTier: parked?.headTier ?? 1, held: true, parkedAt: parked?.parkedAt ?? now };
  return parked ? { ...parked, queue } : undefined;
}

/**
 * The shortest wait of a successor forwarded behind a head that is due already (its copy is being handled, or its
 * tier partition is behind): the successor lands behind the head's copy on the same tier partition, so it cannot
 * pass it, and this floor only bounds how often a successor goes round while a head's forward is still unwritten.
 */
export const successorFloorMs = 250;

/**
 * When a successor of a parked key, forwarded now behind its head, is due on the head's tier: with the head's due
 * time known (a retry tier), then, so the key's later events run right behind the head instead of a whole tier
 * delay after their own forward; never earlier than `now` plus min(the tier's delay, {@link successorFloorMs}).
 * Without it (a delay level, a replayed head, state written by an older version): the tier's delay from now.
 */
export function successorDueAt(parked: Pick<ParkedKey, 'headDueAt'>, tierDelayMs: number, now: number): number {
  if (parked.headDueAt === undefined) return now + tierDelayMs;
  return Math.max(parked.headDueAt, now + Math.min(tierDelayMs, successorFloorMs));
}

/** A key's parking state after its head `eventId` completed (handled, or found done): the next event is the head. */
export function parkingAfterHead(parked: ParkedKey, eventId: string): ParkedKey {
  return { ...parked, queue: parked.queue[0] === eventId ? parked.queue.slice(1) : parked.queue.filter((id) => id !== eventId) };
}

/** Text for an error of any shape, even a null-prototype object (no `toString`). */
export function describe(error: unknown): string {
  if (error instanceof Error) return String(error.message);
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
