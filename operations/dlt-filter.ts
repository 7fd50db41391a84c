/**
 * Which DLT records an operator means: by key, reason, error type and time of dead-lettering. Shared by
 * `orderly dlt list`, `replay` and `purge`, so a replay touches exactly what the same filters listed.
 */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { DltRecord } from './dlt-record.ts';
import { deadLetterReasons } from '../consumers/dead-letter/reason-codes.ts';

export interface DltFilter {
  /** Exact key. */
  key?: string;
  /** Exact reason code, one of `deadLetterReasons`. */
  reason?: string;
  /** Exact `orderly-error-type` (an error code such as `NON_RETRYABLE`, or an error name such as `TypeError`). */
  errorType?: string;
  /** Dead-lettered at or after this time, epoch ms. */
  since?: number;
  /** Dead-lettered before this time, epoch ms. */
  until?: number;
}

const filterSchema = z
  .object({
    key: z.string().optional(),
    reason: z.enum(deadLetterReasons, { error: (issue) => `"${String(issue.input)}" is not a reason code; use one of ${deadLetterReasons.join(', ')}` }).optional(),
    errorType: z.string().min(1, 'must not be empty').optional(),
    since: z.number().int().nonnegative().optional(),
    until: z.number().int().nonnegative().optional(),
  });

function timeText(epochMs: number): string {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? `${epochMs} ms` : date.toISOString();
}

/** Every problem of a filter in one {@link ConfigurationError}. */
export function validateDltFilter(filter: DltFilter): DltFilter {
  const parsed = filterSchema.safeParse(filter);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `filter.${issue.path.join('.') || '(root)'}: ${issue.message}`);
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    problems.push(`filter.since (${timeText(filter.since)}) must be earlier than filter.until (${timeText(filter.until)})`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return parsed.data!;
}

export function matchesDltFilter(record: DltRecord, filter: DltFilter): boolean {
  if (filter.key !== undefined && record.key !== filter.key) return false;
  if (filter.reason !== undefined && record.reason !== filter.reason) return false;
  if (filter.errorType !== undefined && record.errorType !== filter.errorType) return false;
  if (filter.since !== undefined && record.timestamp < filter.since) return false;
  if (filter.until !== undefined && record.timestamp >= filter.until) return false;
  return true;
}

const durationUnitsMs: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time for `--since` / `--until`: an ISO-8601 date (`2025-01-31`, `2025-01-31T12:00:00Z`), epoch
 * milliseconds, or a duration back from `now` (`30s`, `15m`, `2h`, `7d`).
 */
export function parseTimePoint(text: string, now: number = Date.now()): number | undefined {
  const trimmed = text.trim();
  const duration = /^(\d{1,9})([smhd])$/.exec(trimmed);
  if (duration) return now - Number(duration[1]) * durationUnitsMs[duration[2]!]!;
  if (/^\d{10,16}$/.test(trimmed)) return Number(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const parsed = Date.parse(trimmed);
  return Number.isFinite(parsed) ? parsed : undefined;
}
