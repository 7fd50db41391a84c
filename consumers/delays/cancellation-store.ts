/**
 * Where a consumer group keeps the cancellations of delayed events (`producer.cancel`): a cancel record is a
 * record on the source topic, on the event's partition (same key), after the event; the group's consumer writes
 * its marker here at once (it never waits behind the event or its key), and a delayed event that comes due is
 * looked up here before it is handled: cancelled, it is skipped. The marker must outlive the event's delay,
 * so it is kept `ttlMs` (default 90 days). Durable with Redis AOF, as the parking state is.
 */
import type { Redis } from 'ioredis';

export interface CancellationStore {
  /** Marks `eventId` cancelled (idempotent). */
  cancel(eventId: string): Promise<void>;
  isCancelled(eventId: string): Promise<boolean>;
}

/** How long a cancellation is kept by default: longer than any delay it is meant for. */
export const defaultCancellationTtlMs = 90 * 24 * 60 * 60 * 1000;

/** {@link CancellationStore} on Redis: one key per cancelled event, `<prefix>:<group>:cancelled:<eventId>`. */
export class RedisCancellationStore implements CancellationStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor({ redis, groupId, keyPrefix = 'orderly', ttlMs = defaultCancellationTtlMs }: { redis: Redis; groupId: string; keyPrefix?: string; ttlMs?: number }) {
    this.redis = redis;
    this.prefix = `${keyPrefix}:${groupId}:cancelled:`;
    this.ttlMs = ttlMs;
  }

  async cancel(eventId: string): Promise<void> {
    await this.redis.set(this.prefix + eventId, '1', 'PX', this.ttlMs);
  }

  async isCancelled(eventId: string): Promise<boolean> {
    return (await this.redis.exists(this.prefix + eventId)) === 1;
  }
}

/** {@link CancellationStore} in memory: tests, and a single process that needs no durability. */
export class MemoryCancellationStore implements CancellationStore {
  private readonly cancelled = new Set<string>();

  async cancel(eventId: string): Promise<void> {
    this.cancelled.add(eventId);
  }

  async isCancelled(eventId: string): Promise<boolean> {
    return this.cancelled.has(eventId);
  }
}
