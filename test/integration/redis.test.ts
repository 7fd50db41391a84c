import { describe, expect, it, onTestFinished } from 'vitest';
import { Redis } from 'ioredis';
import { testStack, uniqueName } from '../support/test-stack.ts';

function testRedis(): Redis {
  const redis = new Redis(testStack().settings.REDIS_URL, { lazyConnect: true });
  onTestFinished(() => redis.quit().then(() => undefined));
  return redis;
}

describe('Redis of the stack', () => {
  it('stores, expires and scripts atomically', async () => {
    const redis = testRedis();
    const key = uniqueName('orderly:test');
    await redis.connect();
    // The shape the idempotency store will use: a claim that only one caller gets.
    const claim = () => redis.set(key, 'member-a', 'PX', 5_000, 'NX');
    expect(await claim()).toBe('OK');
    expect(await claim()).toBeNull();
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    const released = await redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      key,
      'member-a',
    );
    expect(released).toBe(1);
    expect(await redis.exists(key)).toBe(0);
  });

  it.runIf(testStack().kind === 'local' && !process.env.REDIS_URL)('runs the private server with AOF on, on loopback', async () => {
    const redis = testRedis();
    await redis.connect();
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(new URL(testStack().settings.REDIS_URL).port).not.toBe('6379');
  });
});
