/**
 * Says, in a sentence for an operator, why a record has not completed: the reason a stalled partition's
 * watermark waits on it (see {@link PartitionStallWatch}). Read from the scheduler, the held retries and the
 * last trouble reported for the record (a failed attempt, a timeout, a failing forward); no payload, no key.
 */
import { partitionIdOf, type ConsumedRecord } from '../consumed-record.ts';
import type { KeyScheduler } from '../ordering/key-scheduler.ts';

export interface WaitContext {
  scheduler: KeyScheduler<ConsumedRecord>;
  concurrency: number;
  rebalancing: boolean;
  /** Retry records held in memory until their due time, in the partition. */
  heldRetries(partitionId: string): number;
  paused(partitionId: string): boolean;
  /** The last trouble reported for the record, if any. */
  trouble(partitionId: string, offset: string): string | undefined;
}

const refOf = (record: ConsumedRecord) => `${record.topic}[${record.partition}]@${record.offset}`;

export function explainWait(context: WaitContext, topic: string, partition: number, offset: string): string {
  const id = partitionIdOf(topic, partition);
  const located = context.scheduler.locate((record) => record.partitionId === id && record.offset === offset);
  const trouble = context.trouble(id, offset);
  if (located?.state === 'in-flight') {
    return trouble
      ? `in flight: ${trouble}`
      : 'in flight: its handler, or one of its idempotency, parking or forward steps, has not finished';
  }
  if (located?.state === 'queued') {
    if (located.laneRunning) return `queued behind ${refOf(located.laneRunning)} of the same key, still in flight${located.ahead > 0 ? ` (and ${located.ahead} more queued before it)` : ''}`;
    if (located.ahead > 0) return `queued behind ${located.ahead} earlier record(s) of the same key`;
    if (context.rebalancing) return 'queued: nothing starts while the group rebalances';
    if (located.slotsFull) return `queued: every handler slot is taken (${context.scheduler.inFlight} of ${context.concurrency} in flight)`;
    return 'queued: next to start';
  }
  if (context.heldRetries(id) > 0) return 'a retry record held in memory until its due time';
  if (context.paused(id)) return 'the partition is paused (backpressure) and the record was not taken yet';
  return "not in this member's queues (abandoned at a rebalance or a stop; it comes again from the committed offset)";
}
