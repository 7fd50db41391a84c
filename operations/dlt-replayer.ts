/**
 * Replays dead-lettered records, in DLT offset order per partition, keeping the event id, key, value and
 * partition number so idempotency and per-key order hold:
 * - a record whose key is not parked goes back to the source topic;
 * - the records of a parked (or held) key go "into the key's lane": their ids are put at the front of the
 *   key's parking queue, the key is un-held with its head on tier 1, and the records are sent to tier 1, due
 *   now, so the consumer handles them as the key's head, before the successors it holds. The queue is changed
 *   atomically (compare-and-set: a consumer or `keys release` writing meanwhile is never overwritten), with an
 *   intent (`replaying`) and a lock on the key: intent, produce, then confirm. A replay that crashed between the
 *   intent and the produce is finished by running it again (the ids are already in the queue, the records are
 *   produced); a second replay of the key while one runs is refused.
 * Before a record is sent, its dead-letter marker is forgotten in the idempotency store (the consumer handles
 * it again); an event that was handled stays done, so replaying it again is a no-op. Each replay is counted
 * (`orderly-replay-count` on the record, and per DLT record in the {@link DltReplayStore}); a record replayed
 * `maxReplays` times is refused.
 */
import { randomUUID } from 'node:crypto';
import { OrderlyError } from '../core/errors.ts';
import type { IHeaders, Producer } from '../core/kafka-client.ts';
import { changeParkedKey } from '../consumers/retries/change-parked-key.ts';
import type { IdempotencyStore } from '../consumers/idempotency/idempotency-store.ts';
import { retryHeaders } from '../consumers/dead-letter/dead-letter-headers.ts';
import type { ParkedKey, ParkingStore } from '../consumers/retries/parking-store.ts';
import { retryTopicOf } from '../consumers/retries/topic-layout.ts';
import { forwardHeaders } from '../consumers/dead-letter/dead-letter-headers.ts';
import { eventIdHeader, type DltRecord } from './dlt-record.ts';
import type { DltRateLimiter } from './dlt-rate-limiter.ts';
import type { DltReplayStore } from './dlt-replay-store.ts';

export type ReplayAction = 'source' | 'lane' | 'refused' | 'skipped';

export interface ReplayItem {
  record: DltRecord;
  action: ReplayAction;
  /** The id the consumer will see (the record's `orderly-event-id`, else the id it derived when it failed). */
  eventId: string;
  /** Where it goes: the source topic or tier 1; for a refused or skipped record, why not. */
  destination: string;
  /** The replay count the replayed record carries. */
  replayCount: number;
}

export interface ReplayPlanOptions {
  sourceTopic: string;
  groupId: string;
  /** Refuse a record replayed this many times already. */
  maxReplays: number;
  /** Replay records the replay store says were replayed before. */
  includeReplayed: boolean;
  /** Replays so far of a DLT record (counted by its identity in the replay store). */
  replaysOf: (record: DltRecord) => number;
  /** The parking state of the record's key in the source topic, if parked. */
  parkedStateOf: (record: DltRecord) => ParkedKey | undefined;
}

/** The id the consumer derives for an event without `orderly-event-id` (see record-processor.ts). */
export function replayEventIdOf(record: DltRecord, sourceTopic: string): string {
  return record.eventId ?? `${record.originalTopic ?? sourceTopic}:${record.originalPartition ?? record.partition}:${record.originalOffset ?? record.offset}`;
}

/** Decides, without side effects, what a replay does with each record. */
export function planDltReplay(records: readonly DltRecord[], options: ReplayPlanOptions): ReplayItem[] {
  return records.map((record) => {
    const eventId = replayEventIdOf(record, options.sourceTopic);
    const replays = options.replaysOf(record);
    const replayCount = record.replayCount + replays + 1;
    if (replays > 0 && !options.includeReplayed) {
      return { record, action: 'skipped', eventId, replayCount, destination: `replayed ${replays} time(s) already (--include-replayed to replay again)` };
    }
    if (record.replayCount + replays >= options.maxReplays) {
      return { record, action: 'refused', eventId, replayCount, destination: `replayed ${record.replayCount + replays} time(s), --max-replays is ${options.maxReplays}` };
    }
    if (options.parkedStateOf(record)) {
      return { record, action: 'lane', eventId, replayCount, destination: `${retryTopicOf(options.sourceTopic, options.groupId, 1)} p${record.partition} (lane of parked key)` };
    }
    return { record, action: 'source', eventId, replayCount, destination: `${options.sourceTopic} p${record.partition}` };
  });
}

/** Headers a forward set that no longer hold for a replayed event. `original-*`, the group and the event's own stay. */
const staleHeaders = new Set<string>([
  forwardHeaders.reason,
  forwardHeaders.attempt,
  forwardHeaders.firstFailureAt,
  forwardHeaders.errorType,
  forwardHeaders.errorMessage,
  forwardHeaders.errorStack,
  forwardHeaders.errorFingerprint,
  forwardHeaders.replayCount,
  retryHeaders.dueAt,
  retryHeaders.tier,
  retryHeaders.level,
]);

/** The headers of a replayed record: the DLT record's, less the stale ones, plus the replay count (and the lane's). */
export function replayHeadersOf(item: ReplayItem, now: number): IHeaders {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(item.record.headers)) {
    if (name !== '__proto__' && !staleHeaders.has(name) && value !== undefined) headers[name] = value;
  }
  headers[eventIdHeader] = item.eventId;
  headers[forwardHeaders.replayCount] = String(item.replayCount);
  if (item.action === 'lane') {
    headers[retryHeaders.dueAt] = String(now);
    headers[retryHeaders.tier] = '1';
    headers[retryHeaders.level] = '0';
    headers[forwardHeaders.attempt] = '0';
  }
  return headers;
}

export interface DltReplayerOptions {
  /** Connected, idempotent producer; sends with acks=all. */
  producer: Producer;
  idempotencyStore: IdempotencyStore;
  parkingStore: ParkingStore;
  replayStore: DltReplayStore;
  sourceTopic: string;
  groupId: string;
  limiter: DltRateLimiter;
  now?: () => number;
  /** How long a lane replay holds its key against a second replay (a crashed one's rerun waits this long). @defaultValue 60000 ms */
  laneLockMs?: number;
}

export interface ReplayResult {
  toSource: number;
  intoLanes: number;
}

export class DltReplayer {
  private readonly options: DltReplayerOptions;
  private readonly now: () => number;
  /** Names this replay in the keys it locks. */
  private readonly replayId = randomUUID();

  constructor(options: DltReplayerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Replays the `source` and `lane` items of a plan, in order; the records of one parked key go in one batch.
   * `onProgress` is called with the number of records replayed so far.
   */
  async replay(plan: readonly ReplayItem[], onProgress: (done: number) => void = () => undefined): Promise<ReplayResult> {
    const lanes = new Map<string, ReplayItem[]>();
    for (const item of plan) {
      if (item.action !== 'lane') continue;
      const id = `${item.record.partition}\u0000${item.record.key ?? ''}`;
      lanes.set(id, [...(lanes.get(id) ?? []), item]);
    }
    const result: ReplayResult = { toSource: 0, intoLanes: 0 };
    for (const item of plan) {
      if (item.action === 'source') {
        await this.send(this.options.sourceTopic, [item]);
        result.toSource++;
      } else if (item.action === 'lane') {
        const id = `${item.record.partition}\u0000${item.record.key ?? ''}`;
        const lane = lanes.get(id);
        if (!lane) continue; // replayed with the first record of its lane
        lanes.delete(id);
        if (await this.replayIntoLane(lane)) result.intoLanes += lane.length;
        else result.toSource += lane.length;
      } else {
        continue;
      }
      onProgress(result.toSource + result.intoLanes);
    }
    return result;
  }

  /**
   * Returns false when the key was unparked meanwhile: then its records went to the source topic instead.
   * Intent, produce, confirm: a crash leaves the ids at the front of the queue with the intent, and a rerun
   * finds them there and produces the records.
   */
  private async replayIntoLane(lane: ReplayItem[]): Promise<boolean> {
    const { record } = lane[0]!;
    const { parkingStore, sourceTopic, groupId } = this.options;
    const key = record.key ?? '';
    const ids = lane.map((item) => item.eventId);
    const lockMs = this.options.laneLockMs ?? 60_000;
    let refused: { holder: string; expiresAt: number } | undefined;
    const { state } = await changeParkedKey(parkingStore, sourceTopic, record.partition, key, (current) => {
      refused = undefined;
      if (!current) return undefined;
      const lock = current.replayLock;
      if (lock && lock.holder !== this.replayId && lock.expiresAt > this.now()) {
        refused = lock;
        return current;
      }
      const rest = current.queue.filter((id) => !ids.includes(id));
      const { headDueAt: _, ...state } = current; // the replayed head's copy is due now, not when the old head was
      return { ...state, queue: [...ids, ...rest], headTier: 1, held: false, replaying: ids, replayLock: { holder: this.replayId, expiresAt: this.now() + lockMs } };
    });
    if (refused) {
      throw new OrderlyError(
        'FENCED',
        `key "${key}" (${sourceTopic} p${record.partition}) is being replayed by another \`orderly dlt replay\` (its lock runs until ${new Date(refused.expiresAt).toISOString()}); nothing of this key was replayed now: run the replay again after that (a crashed replay is finished by running it again)`,
        { context: { topic: sourceTopic, partition: record.partition, key } },
      );
    }
    if (!state) {
      // A parking entry the consumer does not know would hold the key forever; the source keeps the order too.
      await this.send(sourceTopic, lane.map((item) => ({ ...item, action: 'source' as const })));
      return false;
    }
    await this.options.limiter.take(lane.length);
    await this.forget(lane);
    await this.produce(retryTopicOf(sourceTopic, groupId, 1), lane);
    // Confirm: the records are on tier 1; the intent and the lock go (events the consumer settled meanwhile are gone already).
    await changeParkedKey(parkingStore, sourceTopic, record.partition, key, (current) => {
      if (!current || current.replayLock?.holder !== this.replayId) return current;
      const { replayLock: _lock, replaying: _intent, ...rest } = current;
      return rest;
    });
    return true;
  }

  private async send(topic: string, items: ReplayItem[]): Promise<void> {
    await this.options.limiter.take(items.length);
    await this.forget(items);
    await this.produce(topic, items);
  }

  private async forget(items: ReplayItem[]): Promise<void> {
    for (const item of items) await this.options.idempotencyStore.forgetDeadLettered(item.eventId);
  }

  /** One batch to one partition: acknowledged (acks=all) before the replays are counted. */
  private async produce(topic: string, items: ReplayItem[]): Promise<void> {
    const now = this.now();
    await this.options.producer.send({
      topic,
      acks: -1,
      messages: items.map((item) => ({ partition: item.record.partition, key: item.record.keyBytes, value: item.record.value, headers: replayHeadersOf(item, now) })),
    });
    for (const item of items) await this.options.replayStore.markReplayed(item.record);
  }
}
