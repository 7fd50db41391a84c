/**
 * The headers a forwarded record carries (docs/guarantees.md, "Headers"). Bounded: a forward first removes every
 * header it sets, and error text is truncated, so a record forwarded again never grows.
 */
import { createHash } from 'node:crypto';
import type { IHeaders } from '../../core/kafka-client.ts';
import type { DeadLetterReason } from './reason-codes.ts';

export const forwardHeaders = {
  reason: 'orderly-dlt-reason',
  attempt: 'orderly-attempt',
  firstFailureAt: 'orderly-first-failure-at',
  originalTopic: 'orderly-original-topic',
  originalPartition: 'orderly-original-partition',
  originalOffset: 'orderly-original-offset',
  originalTimestamp: 'orderly-original-timestamp',
  consumerGroup: 'orderly-consumer-group',
  errorType: 'orderly-error-type',
  errorMessage: 'orderly-error-message',
  errorStack: 'orderly-error-stack',
  errorFingerprint: 'orderly-error-fingerprint',
  replayCount: 'orderly-replay-count',
} as const;

const setByForward = new Set<string>([
  ...Object.values(forwardHeaders).filter((name) => name !== forwardHeaders.replayCount),
  'orderly-due-at',
  'orderly-tier',
  'orderly-retry-level',
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
  /** On the way to a retry tier: the event's own retry level (see retry-headers.ts). */
  level?: number;
}

export interface ForwardedRecordSource {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  headers: IHeaders;
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

/** The headers of a forwarded record: the record's own, less every header a forward sets, plus the new ones. */
export function deadLetterHeaders(record: ForwardedRecordSource, groupId: string, failure: ForwardFailure, origin: RecordOrigin = record): IHeaders {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!setByForward.has(name) && value !== undefined) headers[name] = value;
  }
  const error = failure.error instanceof Error ? failure.error : undefined;
  const type = error ? (('code' in error && typeof error.code === 'string' && error.code) || error.name) : 'none';
  const message = error ? error.message : failure.error === undefined ? '' : String(failure.error);
  if (failure.reason !== undefined) headers[forwardHeaders.reason] = failure.reason;
  if (failure.dueAt !== undefined) headers['orderly-due-at'] = String(failure.dueAt);
  if (failure.tier !== undefined) headers['orderly-tier'] = String(failure.tier);
  if (failure.level !== undefined) headers['orderly-retry-level'] = String(failure.level);
  Object.assign(headers, {
    [forwardHeaders.attempt]: String(failure.attempt),
    [forwardHeaders.firstFailureAt]: String(failure.firstFailureAt),
    [forwardHeaders.originalTopic]: origin.topic,
    [forwardHeaders.originalPartition]: String(origin.partition),
    [forwardHeaders.originalOffset]: origin.offset,
    [forwardHeaders.originalTimestamp]: origin.timestamp,
    [forwardHeaders.consumerGroup]: groupId,
    [forwardHeaders.errorType]: truncate(type, 128),
    [forwardHeaders.errorMessage]: truncate(message, errorMessageLimit),
    [forwardHeaders.errorStack]: truncate(error?.stack ?? '', errorStackLimit),
    [forwardHeaders.errorFingerprint]: errorFingerprint(type, message),
  });
  return headers;
}
