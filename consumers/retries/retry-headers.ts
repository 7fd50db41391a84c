/**
 * The retry headers of a record on the ladder, read defensively (docs/guarantees.md): the last value wins, numbers are
 * clamped, a due time far in the future is capped, and anything unreadable falls back to a safe default.
 */
import { readHeaders } from '../consumed-record.ts';
import type { IHeaders } from '../../core/kafka-client.ts';
import { forwardHeaders } from '../dead-letter/dead-letter-headers.ts';

export const retryHeaders = {
  dueAt: 'orderly-due-at',
  /** The tier topic the record was sent to. */
  tier: 'orderly-tier',
  /**
   * How many tiers the event climbed for its own failures. A successor that follows a parked head up the
   * ladder keeps its own level, so it still has every tier above it when it becomes the head and fails.
   */
  level: 'orderly-retry-level',
} as const;

export const maxRecordedAttempts = 10_000;

export interface RetryState {
  /** Handler attempts made so far, over every visit. */
  attempts: number;
  /** Tiers climbed for the event's own failures (0 in the source topic). */
  level: number;
  /** When the first attempt failed, epoch ms. */
  firstFailureAt: number | undefined;
  /** When this tier record may be handled, epoch ms; capped to `now + maxDelayMs`. */
  dueAt: number;
  /** Where the record was first consumed. */
  originalOffset: string | undefined;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,16}$/.test(text.trim())) return undefined;
  return Number(text);
}

export function readRetryState(headers: IHeaders, { now, maxDelayMs }: { now: number; maxDelayMs: number }): RetryState {
  const read = readHeaders(headers);
  const attempts = Math.min(Math.max(integer(read[forwardHeaders.attempt]) ?? 0, 0), maxRecordedAttempts);
  const due = integer(read[retryHeaders.dueAt]);
  const firstFailure = integer(read[forwardHeaders.firstFailureAt]) ?? Date.parse(read[forwardHeaders.firstFailureAt] ?? '');
  const originalOffset = read[forwardHeaders.originalOffset];
  return {
    attempts,
    level: Math.min(Math.max(integer(read[retryHeaders.level]) ?? 0, 0), 100),
    dueAt: due === undefined ? now : Math.min(Math.max(due, 0), now + maxDelayMs),
    firstFailureAt: Number.isFinite(firstFailure) ? firstFailure : undefined,
    originalOffset: originalOffset !== undefined && /^\d{1,20}$/.test(originalOffset) ? originalOffset : undefined,
  };
}
