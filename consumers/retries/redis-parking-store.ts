/**
 * {@link ParkingStore} on Redis: one hash per (group, source topic, partition), a field per parked key holding
 * its state as JSON. With AOF on, the state survives a Redis restart.
 */
import type { Redis } from 'ioredis';
import type { ParkedKey, ParkedKeyEntry, ParkingStore } from './parking-store.ts';

export class RedisParkingStore implements ParkingStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor({ redis, groupId, keyPrefix = 'orderly' }: { redis: Redis; groupId: string; keyPrefix?: string }) {
    this.redis = redis;
    this.prefix = `${keyPrefix}:${groupId}:parked`;
  }

  private hashOf(topic: string, partition: number): string {
    return `${this.prefix}:${topic}:${partition}`;
  }

  async load(topic: string, partition: number): Promise<Map<string, ParkedKey>> {
    const fields = await this.redis.hgetall(this.hashOf(topic, partition));
    return new Map(Object.entries(fields).map(([key, json]) => [key, parse(json)]));
  }

  async get(topic: string, partition: number, key: string): Promise<ParkedKey | undefined> {
    const json = await this.redis.hget(this.hashOf(topic, partition), key);
    return json === null ? undefined : parse(json);
  }

  async put(topic: string, partition: number, key: string, state: ParkedKey): Promise<void> {
    await this.redis.hset(this.hashOf(topic, partition), key, JSON.stringify(state));
  }

  async remove(topic: string, partition: number, key: string): Promise<void> {
    await this.redis.hdel(this.hashOf(topic, partition), key);
  }

  async list(topic?: string): Promise<ParkedKeyEntry[]> {
    const entries: ParkedKeyEntry[] = [];
    const pattern = `${this.prefix}:${topic ?? '*'}:*`;
    let cursor = '0';
    do {
      const [next, hashes] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      cursor = next;
      for (const hash of hashes) {
        const rest = hash.slice(this.prefix.length + 1);
        const separator = rest.lastIndexOf(':');
        const hashTopic = rest.slice(0, separator);
        const partition = Number(rest.slice(separator + 1));
        for (const [key, json] of Object.entries(await this.redis.hgetall(hash))) {
          entries.push({ topic: hashTopic, partition, key, state: parse(json) });
        }
      }
    } while (cursor !== '0');
    return entries.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.key.localeCompare(b.key));
  }
}

function parse(json: string): ParkedKey {
  const value = JSON.parse(json) as Partial<ParkedKey>;
  return {
    queue: Array.isArray(value.queue) ? value.queue.filter((id): id is string => typeof id === 'string') : [],
    headTier: typeof value.headTier === 'number' ? value.headTier : 1,
    held: value.held === true,
    parkedAt: typeof value.parkedAt === 'number' ? value.parkedAt : 0,
  };
}
