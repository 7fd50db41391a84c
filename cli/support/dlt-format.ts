/**
 * How `orderly dlt` shows a dead-lettered record: a short block for people, one object per record for `--json`.
 * Everything in the block that comes from the record goes through {@link terminalSafe}; the JSON stays exact.
 */
import type { DecodedPayload } from '../../operations/dlt-payload-decoder.ts';
import type { DltRecord } from '../../operations/dlt-record.ts';
import { shorten } from './table.ts';
import { terminalSafe, terminalSafeBytes } from './terminal-text.ts';

export interface ShownDltRecord {
  record: DltRecord;
  payload: DecodedPayload;
  /** Replays of this DLT record counted in Redis; undefined when Redis was not asked. */
  replays: number | undefined;
}

function time(epochMs: number): string {
  return Number.isFinite(epochMs) && epochMs > 0 ? new Date(epochMs).toISOString() : '-';
}

export function dltRecordJson({ record, payload, replays }: ShownDltRecord): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    eventId: record.eventId ?? null,
    eventType: record.eventType ?? null,
    reason: record.reason ?? null,
    errorType: record.errorType ?? null,
    errorMessage: record.errorMessage ?? null,
    attempts: record.attempts ?? null,
    replayCount: record.replayCount,
    replays: replays ?? null,
    deadLetteredAt: time(record.timestamp),
    originalTopic: record.originalTopic ?? null,
    originalPartition: record.originalPartition ?? null,
    originalOffset: record.originalOffset ?? null,
    payload,
  };
}

/** A record's key for people: its bytes, with invalid UTF-8 and controls escaped. */
export function shownKey(record: Pick<DltRecord, 'key' | 'keyBytes'>): string {
  if (record.keyBytes) return terminalSafeBytes(record.keyBytes);
  return record.key === null ? '(none)' : terminalSafe(record.key);
}

/** A header value or other record-derived text for people (escaped), or `fallback` when absent. */
export function shownText(text: string | undefined, fallback: string): string {
  return text === undefined ? fallback : terminalSafe(text);
}

export function dltRecordText({ record, payload, replays }: ShownDltRecord, payloadLimit = 400): string {
  const type = record.eventType ? ` (${terminalSafe(record.eventType)})` : '';
  const lines = [
    `p${record.partition}@${record.offset}  ${time(record.timestamp)}  key=${shownKey(record)}  event=${shownText(record.eventId, '(no id)')}${type}`,
    `  reason ${shownText(record.reason, '(none)')}  attempts ${record.attempts ?? '?'}  replay-count ${record.replayCount}${replays === undefined ? '' : `  replayed-from-here ${replays}`}`,
    `  error  ${shownText(record.errorType, '?')}: ${terminalSafe(shorten(record.errorMessage ?? '', 300))}`,
  ];
  const shown = payload.format === 'empty' ? '(empty)' : typeof payload.value === 'string' && payload.format !== 'json' ? payload.value : JSON.stringify(payload.value);
  const schema = payload.format === 'avro' ? ` schema ${payload.schemaId}` : '';
  lines.push(`  payload ${payload.format}${schema} ${terminalSafe(shorten(shown, payloadLimit))}`);
  if ('avroError' in payload && payload.avroError) lines.push(`  (not decoded as Avro: ${terminalSafe(shorten(payload.avroError, 200))})`);
  return lines.join('\n');
}
