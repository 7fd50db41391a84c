/**
 * The headers a forwarded record carries (names in core/headers.ts). Bounded: a forward first removes every
 * header it sets, and error text is truncated, so a record forwarded again never grows.
 */
import { createHash } from 'node:crypto';
import { headerNames, headersOf, rawHeadersOf, replaceHeaders, type RecordHeader } from '../../core/headers.ts';
import type { IHeaders } from '../../core/kafka-client.ts';
import type { DeadLetterReason } from './reason-codes.ts';

/** The names a forward writes (and `dlt replay` reads), from the one list in core/headers.ts. */
export const forwardHeaders = {
  reason: headerNames.reason,
  attempt: headerNames.attempt,
  firstFailureAt: headerNames.firstFailureAt,
  originalTopic: headerNames.originalTopic,
  originalPartition: headerNames.originalPartition,
  originalOffset: headerNames.originalOffset,
  originalTimestamp: headerNames.originalTimestamp,
  consumerGroup: headerNames.consumerGroup,
  errorType: headerNames.errorType,
  errorMessage: headerNames.errorMessage,
  errorStack: headerNames.errorStack,
  errorFingerprint: headerNames.errorFingerprint,
  replayCount: headerNames.replayCount,
} as const;

/** The names a forward to a retry tier adds. */
export const retryHeaders = { dueAt: headerNames.dueAt, tier: headerNames.tier, level: headerNames.level } as const;

const setByForward: ReadonlySet<string> = new Set<string>([
  ...Object.values(forwardHeaders).filter((name) => name !== forwardHeaders.replayCount),
  ...Object.values(retryHeaders),
  headerNames.reducedForm,
]);

export const errorMessageLimit = 512;
export const errorStackLimit = 2048;

export interface ForwardFailure {
  /** Set on the way to the DLT; absent on the way to a retry tier. */
  reason?: DeadLetterReason;
  attempt: number;
  firstFailureAt: number;
  error?: unknown;
  /** On the way to a retry tier: when it may be handled (epoch ms), and which tier. */
  dueAt?: number;
  tier?: number;
  /** On the way to a retry tier: the event's own retry level (`orderly-retry-level`). */
  level?: number;
}

export interface ForwardedRecordSource {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  headers: IHeaders;
  /** The headers byte for byte, in order; read from `headers` when absent. */
  rawHeaders?: readonly RecordHeader[];
}

/** Where a record was first consumed: kept through every forward. */
export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
}

function truncate(text: string, limit: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short text needs no encoding (the common case, on every forward).
  if (text.length * 3 <= limit || Buffer.byteLength(text, 'utf8') <= limit) return text;
  return `${Buffer.from(text, 'utf8').subarray(0, limit - 3).toString('utf8')}...`;
}

/** Fingerprints of recent errors: a burst of failures repeats a few (type, message) pairs. Bounded, short inputs only. */
const recentFingerprints = new Map<string, string>();
const recentFingerprintsLimit = 256;
const cachedInputLimit = 1_024;

/** A stable fingerprint of an error: its type and message with digits removed, so ids do not split groups. */
export function errorFingerprint(type: string, message: string): string {
  const input = `${type}:${message.replace(/\d+/g, '#')}`;
  let fingerprint = recentFingerprints.get(input);
  if (fingerprint === undefined) {
    fingerprint = createHash('sha256').update(input).digest('hex').slice(0, 16);
    if (input.length <= cachedInputLimit) {
      if (recentFingerprints.size >= recentFingerprintsLimit) recentFingerprints.clear();
      recentFingerprints.set(input, fingerprint);
    }
  }
  return fingerprint;
}

/** The headers a forward adds, in order (after the record's own, less every one a forward sets). */
export function forwardHeaderValues(groupId: string, failure: ForwardFailure, origin: RecordOrigin): Record<string, string> {
  const error = failure.error instanceof Error ? failure.error : undefined;
  const type = errorTypeName(failure.error);
  const message = error ? String(error.message) : failure.error === undefined ? '' : safeString(failure.error);
  const added: Record<string, string> = {};
  if (failure.reason !== undefined) added[forwardHeaders.reason] = failure.reason;
  if (failure.dueAt !== undefined) added[retryHeaders.dueAt] = String(failure.dueAt);
  if (failure.tier !== undefined) added[retryHeaders.tier] = String(failure.tier);
  if (failure.level !== undefined) added[retryHeaders.level] = String(failure.level);
  Object.assign(added, {
    [forwardHeaders.attempt]: String(failure.attempt),
    [forwardHeaders.firstFailureAt]: String(failure.firstFailureAt),
    [forwardHeaders.originalTopic]: origin.topic,
    [forwardHeaders.originalPartition]: String(origin.partition),
    [forwardHeaders.originalOffset]: origin.offset,
    [forwardHeaders.originalTimestamp]: origin.timestamp,
    [forwardHeaders.consumerGroup]: groupId,
    [forwardHeaders.errorType]: truncate(type, 128),
    [forwardHeaders.errorMessage]: truncate(message, errorMessageLimit),
    [forwardHeaders.errorStack]: truncate(typeof error?.stack === 'string' ? error.stack : '', errorStackLimit),
    [forwardHeaders.errorFingerprint]: errorFingerprint(type, message),
  });
  return added;
}

/** The error's type for a header: its `code` or `name`, or the JavaScript type of a thrown non-Error. */
function errorTypeName(error: unknown): string {
  if (!(error instanceof Error)) return error === undefined ? 'none' : error === null ? 'null' : typeof error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code ? code : String(error.name);
}

/** `String(value)` that never throws (an `Object.create(null)` has no `toString`). */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The headers of a forwarded record, in order: the record's own, less every header a forward sets, then the new ones. */
export function forwardedHeaderList(record: ForwardedRecordSource, groupId: string, failure: ForwardFailure, origin: RecordOrigin = record): RecordHeader[] {
  return replaceHeaders(record.rawHeaders ?? rawHeadersOf(record.headers), setByForward, forwardHeaderValues(groupId, failure, origin));
}

/** {@link forwardedHeaderList} as the headers object `producer.send` writes byte for byte. */
export function deadLetterHeaders(record: ForwardedRecordSource, groupId: string, failure: ForwardFailure, origin: RecordOrigin = record): IHeaders {
  return headersOf(forwardedHeaderList(record, groupId, failure, origin));
}
