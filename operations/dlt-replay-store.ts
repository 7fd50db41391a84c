/**
 * Which DLT records were replayed, and how often: one Redis hash per (group, DLT topic, partition),
 * `orderly:<group>:replayed:<dlt topic>:<partition>`, field = DLT offset, value = replays of that record.
 * `orderly dlt replay` skips what is here by default and counts it against `--max-replays`; `orderly dlt purge`
 * deletes only prefixes of replayed records, then forgets them here.
 */
import type { Redis } from 'ioredis';

export class DltReplayStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor({ redis, groupId, keyPrefix = 'orderly' }: { redis: Redis; groupId: string; keyPrefix?: string }) {
    this.redis = redis;
    this.prefix = `${keyPrefix}:${groupId}:replayed`;
  }

  hashOf(topic: string, partition: number): string {
    return `${this.prefix}:${topic}:${partition}`;
  }

  /** Replays per offset of one DLT partition. */
  async counts(topic: string, partition: number): Promise<Map<string, number>> {
    const fields = await this.redis.hgetall(this.hashOf(topic, partition));
    return new Map(Object.entries(fields).map(([offset, count]) => [offset, Number(count) || 0]));
  }

  /** Counts one more replay of the record at `offset`; returns its replays so far. */
  async markReplayed(topic: string, partition: number, offset: string): Promise<number> {
    return this.redis.hincrby(this.hashOf(topic, partition), offset, 1);
  }

  /** Forgets offsets (after they were deleted from the topic). */
  async forget(topic: string, partition: number, offsets: readonly string[]): Promise<void> {
    if (offsets.length > 0) await this.redis.hdel(this.hashOf(topic, partition), ...offsets);
  }
}
