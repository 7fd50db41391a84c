/**
 * Where a failed event goes next: the next retry tier with a jittered due time, or the DLT with a reason.
 * `NonRetryableError`, decode errors and whatever `isRetryable` rejects go straight to the DLT.
 */
import { NonRetryableError, OrderlyError } from '../../core/errors.ts';
import type { DeadLetterReason } from '../dead-letter/reason-codes.ts';

export type RetryDecision =
  | { kind: 'tier'; tier: number; dueAt: number }
  | { kind: 'dead-letter'; reason: DeadLetterReason };

export interface RetryPolicyOptions {
  /** Delay of each tier, in ms (tier n waits `tiersMs[n-1]`). Empty: no ladder. */
  tiersMs: readonly number[];
  /** Attempts over every visit, the first included. */
  maxAttempts: number;
  /** Extra delay as a fraction of the tier delay, drawn uniformly from [0, jitter]. @defaultValue 0.1 */
  jitter: number;
  isRetryable?: (error: unknown) => boolean;
}

export function isRetryableError(error: unknown, isRetryable?: (error: unknown) => boolean): boolean {
  if (error instanceof NonRetryableError) return false;
  if (error instanceof OrderlyError && (error.code === 'NON_RETRYABLE' || error.code === 'DECODE' || error.code === 'ID_CONFLICT')) return false;
  return isRetryable ? isRetryable(error) : true;
}

export function decideRetry(
  { error, attemptsSoFar, currentTier, failedAt, timedOut }: { error: unknown; attemptsSoFar: number; currentTier: number; failedAt: number; timedOut: boolean },
  options: RetryPolicyOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (error instanceof OrderlyError && error.code === 'ID_CONFLICT') return { kind: 'dead-letter', reason: 'id-conflict' };
  if (!isRetryableError(error, options.isRetryable)) return { kind: 'dead-letter', reason: 'non-retryable' };
  const nextTier = currentTier + 1;
  if (nextTier > options.tiersMs.length || attemptsSoFar >= options.maxAttempts) {
    return { kind: 'dead-letter', reason: timedOut ? 'handler-timeout' : 'retries-exhausted' };
  }
  const delay = options.tiersMs[nextTier - 1]!;
  return { kind: 'tier', tier: nextTier, dueAt: failedAt + delay + Math.round(random() * options.jitter * delay) };
}
