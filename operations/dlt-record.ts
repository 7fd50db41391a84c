/**
 * One record of a dead-letter topic as the operator tools see it: where it sits, the event it carries and why
 * it was dead-lettered, read from the header contract of `dead-letter-headers.ts`. Headers are read
 * defensively (last value wins, bad UTF-8 ignored, numbers clamped), so a malformed record never crashes a tool.
 */
import { readHeaders } from '../consumers/consumed-record.ts';
import type { IHeaders, KafkaMessage } from '../core/kafka-client.ts';
import { forwardHeaders } from '../consumers/dead-letter/dead-letter-headers.ts';

export const eventIdHeader = 'orderly-event-id';
export const eventTypeHeader = 'orderly-event-type';

/** Replays of one record are counted up to this; a larger header value is clamped. */
export const maxReplayCount = 1_000;

export interface DltRecord {
  /** The dead-letter topic. */
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a string. */
  offset: string;
  /** The key as UTF-8 text (`null` for a keyless record). */
  key: string | null;
  /** The key and value bytes exactly as stored, for a replay. */
  keyBytes: Buffer | null;
  value: Buffer | null;
  /** The raw headers, for a replay. */
  headers: IHeaders;
  eventId: string | undefined;
  eventType: string | undefined;
  reason: string | undefined;
  errorType: string | undefined;
  errorMessage: string | undefined;
  /** Handler attempts made before it was dead-lettered. */
  attempts: number | undefined;
  /** `orderly-replay-count` as carried by the record (replays before it came back to the DLT). */
  replayCount: number;
  /** When it was written to the DLT, epoch ms (broker timestamp). */
  timestamp: number;
  originalTopic: string | undefined;
  originalPartition: number | undefined;
  originalOffset: string | undefined;
}

function boundedInteger(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text.trim())) return undefined;
  return Math.min(Number(text), max);
}

/** Reads a fetched DLT message. */
export function toDltRecord(topic: string, partition: number, message: KafkaMessage): DltRecord {
  const headers = message.headers ?? {};
  const read = readHeaders(headers);
  const timestamp = Number(message.timestamp);
  return {
    topic,
    partition,
    offset: message.offset,
    // As the consumer reads it: UTF-8, a bad byte becoming U+FFFD.
    key: message.key ? message.key.toString('utf8') : null,
    keyBytes: message.key ?? null,
    value: message.value ?? null,
    headers,
    eventId: read[eventIdHeader],
    eventType: read[eventTypeHeader],
    reason: read[forwardHeaders.reason],
    errorType: read[forwardHeaders.errorType],
    errorMessage: read[forwardHeaders.errorMessage],
    attempts: boundedInteger(read[forwardHeaders.attempt], 1_000_000),
    replayCount: boundedInteger(read[forwardHeaders.replayCount], maxReplayCount) ?? 0,
    timestamp: Number.isFinite(timestamp) ? timestamp : 0,
    originalTopic: read[forwardHeaders.originalTopic],
    originalPartition: boundedInteger(read[forwardHeaders.originalPartition], 1_000_000),
    originalOffset: read[forwardHeaders.originalOffset],
  };
}

/** Orders records as a partition holds them: by partition, then offset. */
export function compareDltRecords(a: Pick<DltRecord, 'partition' | 'offset'>, b: Pick<DltRecord, 'partition' | 'offset'>): number {
  if (a.partition !== b.partition) return a.partition - b.partition;
  const difference = BigInt(a.offset) - BigInt(b.offset);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
