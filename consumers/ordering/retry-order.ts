/**
 * Within a key's lane, when a retry runs before the key's other queued records (used by the KeyScheduler).
 * A retry-tier record is an earlier event of its key than the source records read after it: run first, and when
 * it is its key's parked head, the key's later source records find the key unparked after it instead of each
 * being forwarded behind it. It is held back only by records that arrived before it and are at or before its
 * event in the source: its own event read again after a rebalance (that copy holds the event's idempotency claim,
 * and the retry would wait out its lease behind it) or an earlier event. Records that arrived after it never hold
 * it back, so at worst it runs in arrival order. A delayed event's copy (on a delay level, or on a retry tier
 * behind a parked head) is no such retry: it keeps arrival order, so a cancel record fetched before it runs first.
 * Pure: no I/O, no timers.
 */
import { delayLevelOfTier } from '../delays/delay-levels.ts';
import type { LaneRecord } from './ordering.ts';

/** A queued retry, with how many of its lane's other records had arrived before it. */
export interface QueuedRetry<R> {
  record: R;
  /** The arrival ordinal of the lane's next non-retry record when it arrived: records below it came before it. */
  after: number;
}

/** A record read from a topic other than its source: a retry tier or a delay level. */
export function isTierRecord(record: LaneRecord): boolean {
  return record.sourceTopic !== undefined && record.sourceTopic !== record.topic;
}

/** A retry-tier record that may run before its key's later records: not a delay-level record, nor a delayed event's copy. */
export function isRetryRecord(record: LaneRecord): boolean {
  return isTierRecord(record) && (record.tier === undefined || delayLevelOfTier(record.tier) === undefined) && record.delay === undefined;
}

/**
 * Whether `retry` runs before the lane's other queued records. `taken` is the arrival ordinal of the first of
 * them, `queuedAt(position)` the one at a position (0: the next). A record whose source offset is not known holds
 * the retry back; a retry without an original offset (a record not written by Orderly) runs first.
 */
export function retryRunsFirst<R extends LaneRecord>(retry: QueuedRetry<R>, taken: number, queuedAt: (position: number) => R | undefined): boolean {
  const original = retry.record.retry?.originalOffset;
  if (original === undefined) return true;
  for (let position = 0; taken + position < retry.after; position++) {
    const record = queuedAt(position);
    if (record === undefined) break;
    const offset = sourceOffsetOf(record);
    if (offset === undefined || BigInt(offset) <= BigInt(original)) return false;
  }
  return true;
}

/** Where a record's event is in its source partition: its offset, or for a tier or delay-level copy its original offset. */
function sourceOffsetOf(record: LaneRecord): string | undefined {
  return isTierRecord(record) ? record.retry?.originalOffset : record.offset;
}
