/**
 * The headers a forwarded record carries (DESIGN.md, "Headers"). Bounded: a forward first removes every
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

const setByForward = new Set<string>(Object.values(forwardHeaders).filter((name) => name !== forwardHeaders.replayCount));

export const errorMessageLimit = 512;
export const errorStackLimit = 2048;

export interface ForwardFailure {
  reason: DeadLetterReason;
  attempt: number;
  firstFailureAt: number;
  error?: unknown;
}

export interface ForwardedRecordSource {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  headers: IHeaders;
}

function truncate(text: string, limit: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= limit ? text : `${bytes.subarray(0, limit - 3).toString('utf8')}...`;
}

/** A stable fingerprint of an error: its type and message with digits removed, so ids do not split groups. */
export function errorFingerprint(type: string, message: string): string {
  return createHash('sha256').update(`${type}:${message.replace(/\d+/g, '#')}`).digest('hex').slice(0, 16);
}

export function deadLetterHeaders(record: ForwardedRecordSource, groupId: string, failure: ForwardFailure): IHeaders {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!setByForward.has(name) && value !== undefined) headers[name] = value;
  }
  const error = failure.error instanceof Error ? failure.error : undefined;
  const type = error ? (('code' in error && typeof error.code === 'string' && error.code) || error.name) : 'none';
  const message = error ? error.message : failure.error === undefined ? '' : String(failure.error);
  Object.assign(headers, {
    [forwardHeaders.reason]: failure.reason,
    [forwardHeaders.attempt]: String(failure.attempt),
    [forwardHeaders.firstFailureAt]: new Date(failure.firstFailureAt).toISOString(),
    [forwardHeaders.originalTopic]: record.topic,
    [forwardHeaders.originalPartition]: String(record.partition),
    [forwardHeaders.originalOffset]: record.offset,
    [forwardHeaders.originalTimestamp]: record.timestamp,
    [forwardHeaders.consumerGroup]: groupId,
    [forwardHeaders.errorType]: truncate(type, 128),
    [forwardHeaders.errorMessage]: truncate(message, errorMessageLimit),
    [forwardHeaders.errorStack]: truncate(error?.stack ?? '', errorStackLimit),
    [forwardHeaders.errorFingerprint]: errorFingerprint(type, message),
  });
  return headers;
}
