/**
 * Which DLT records were replayed, and how often: one Redis hash per (group, DLT topic, partition),
 * `orderly:<group>:dlt-replays:<dlt topic>:<partition>`, field = the record's identity (see
 * {@link dltRecordIdentityOf}), value = replays of that record. `orderly dlt replay` skips what is here by
 * default and counts it against `--max-replays`; `orderly dlt purge` deletes only prefixes of replayed
 * records, then forgets them here, along with entries no record in the log answers to any more.
 *
 * Why not the offset alone: a DLT that is deleted and recreated starts again at offset 0, and its new records
 * would inherit the replays of the old ones (then be skipped as replayed, and purged unreplayed). Kafka's topic
 * ids would tell the two topics apart, but kafkajs 2.2.4 speaks Metadata up to v6 and never sees them (they
 * arrive in v10), so the identity is the offset plus a digest of what was written there: the broker timestamp
 * of the DLT record (when the consumer dead-lettered it, into this incarnation of the topic), the event id,
 * the key and the original topic, partition and offset. A recreated topic's record at the same offset, even of
 * the same event, was written at another time.
 *
 * Earlier versions kept `orderly:<group>:replayed:<dlt topic>:<partition>`, field = DLT offset. A record whose
 * identity has no entry yet is looked up there by its offset, and a count found is moved to its identity (the
 * reader that deletes the old field adds it, so two readers at once count it once); `forget` and `prune` clear
 * the old hash too. An old entry can only be told apart from one of a since-recreated topic by its offset.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DltRecord } from './dlt-record.ts';

type IdentityFields = Pick<DltRecord, 'offset' | 'timestamp' | 'eventId' | 'keyBytes' | 'originalTopic' | 'originalPartition' | 'originalOffset'>;

/** `<offset>:<digest>`: the offset (for pruning) and 16 hex digits of what identifies the record written there. */
export function dltRecordIdentityOf(record: IdentityFields): string {
  const digest = createHash('sha256');
  for (const part of [String(record.timestamp), record.eventId ?? '', record.originalTopic ?? '', String(record.originalPartition ?? ''), record.originalOffset ?? '']) {
    digest.update(part).update('\u0000');
  }
  digest.update(record.keyBytes ?? Buffer.alloc(0));
  return `${record.offset}:${digest.digest('hex').slice(0, 16)}`;
}

/** Fields per Redis command, so a large partition never makes one huge request. */
const fieldsPerCommand = 1_000;

function slices<T>(items: readonly T[]): T[][] {
  const parts: T[][] = [];
  for (let start = 0; start < items.length; start += fieldsPerCommand) parts.push(items.slice(start, start + fieldsPerCommand));
  return parts;
}

export class DltReplayStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly legacyPrefix: string;

  constructor({ redis, groupId, keyPrefix = 'orderly' }: { redis: Redis; groupId: string; keyPrefix?: string }) {
    this.redis = redis;
    this.prefix = `${keyPrefix}:${groupId}:dlt-replays`;
    this.legacyPrefix = `${keyPrefix}:${groupId}:replayed`;
  }

  hashOf(topic: string, partition: number): string {
    return `${this.prefix}:${topic}:${partition}`;
  }

  /** The hash of earlier versions, field = DLT offset. */
  private legacyHashOf(topic: string, partition: number): string {
    return `${this.legacyPrefix}:${topic}:${partition}`;
  }

  /** Replays so far of each record (records of one DLT topic); 0 for a record never replayed. */
  async replaysOf(records: readonly DltRecord[]): Promise<Map<DltRecord, number>> {
    const replays = new Map<DltRecord, number>();
    const byPartition = new Map<string, DltRecord[]>();
    for (const record of records) {
      const hash = this.hashOf(record.topic, record.partition);
      const group = byPartition.get(hash);
      if (group) group.push(record);
      else byPartition.set(hash, [record]);
    }
    for (const [hash, inPartition] of byPartition) {
      const legacyHash = this.legacyHashOf(inPartition[0]!.topic, inPartition[0]!.partition);
      for (const part of slices(inPartition)) {
        const identities = part.map(dltRecordIdentityOf);
        const [counts, legacy] = await Promise.all([this.redis.hmget(hash, ...identities), this.redis.hmget(legacyHash, ...part.map((record) => record.offset))]);
        for (const [index, record] of part.entries()) {
          let count = Number(counts[index] ?? 0) || 0;
          const old = legacy[index];
          if (old !== null && old !== undefined) {
            // Only the reader whose HDEL removed the field adds it: two readers at once move it once.
            const moved = await this.redis.hdel(legacyHash, record.offset);
            const add = Number(old) || 0;
            if (moved === 1 && add > 0) count = await this.redis.hincrby(hash, identities[index]!, add);
            else count = Number(await this.redis.hget(hash, identities[index]!)) || 0;
          }
          replays.set(record, count);
        }
      }
    }
    return replays;
  }

  /** Counts one more replay of `record`; returns its replays so far. */
  async markReplayed(record: DltRecord): Promise<number> {
    return this.redis.hincrby(this.hashOf(record.topic, record.partition), dltRecordIdentityOf(record), 1);
  }

  /** Forgets records (after they were deleted from the topic). */
  async forget(topic: string, partition: number, records: readonly DltRecord[]): Promise<void> {
    for (const part of slices(records)) {
      await this.redis.hdel(this.hashOf(topic, partition), ...part.map(dltRecordIdentityOf));
      await this.redis.hdel(this.legacyHashOf(topic, partition), ...part.map((record) => record.offset));
    }
  }

  /**
   * Forgets the entries of one partition below `before` (the high watermark a read reached) that no record of
   * `live` (every record the read saw in that partition) answers to: records deleted, or of a topic since
   * deleted and recreated. Returns how many were forgotten.
   */
  async prune(topic: string, partition: number, live: readonly DltRecord[], before: string): Promise<number> {
    const hash = this.hashOf(topic, partition);
    const keep = new Set(live.map(dltRecordIdentityOf));
    const end = BigInt(before);
    const stale = (await this.redis.hkeys(hash)).filter((field) => {
      const offset = /^(\d{1,20}):/.exec(field)?.[1];
      return offset === undefined || (BigInt(offset) < end && !keep.has(field));
    });
    for (const part of slices(stale)) await this.redis.hdel(hash, ...part);
    const legacyHash = this.legacyHashOf(topic, partition);
    const liveOffsets = new Set(live.map((record) => record.offset));
    const staleLegacy = (await this.redis.hkeys(legacyHash)).filter((offset) => !/^\d{1,20}$/.test(offset) || (BigInt(offset) < end && !liveOffsets.has(offset)));
    for (const part of slices(staleLegacy)) await this.redis.hdel(legacyHash, ...part);
    return stale.length + staleLegacy.length;
  }
}
