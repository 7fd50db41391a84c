import { describe, expect, it } from 'vitest';
import { redisConnectError } from '../../../cli/support/settings.ts';

describe('redisConnectError', () => {
  it('says to check the password when Redis refuses it, naming the server without the password', () => {
    const error = redisConnectError(new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'redis://:planted-S3cret@127.0.0.1:16379');
    expect(error.message).toMatch(/^Redis at redis:\/\/:redacted@127\.0\.0\.1:16379 refused the connection: check the password in REDIS_URL/);
    expect(error.message).not.toContain('planted-S3cret');
  });

  it('keeps other failures as they are, still without the password', () => {
    const error = redisConnectError(new Error('connect ECONNREFUSED 127.0.0.1:16379'), 'redis://:planted-S3cret@127.0.0.1:16379');
    expect(error.message).toBe('Redis at redis://:redacted@127.0.0.1:16379 refused the connection (connect ECONNREFUSED 127.0.0.1:16379)');
  });
});
