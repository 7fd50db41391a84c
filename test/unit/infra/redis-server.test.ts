import { describe, expect, it } from 'vitest';
import { redisConfig } from '../../../infra/stack/redis-server.ts';

describe('redisConfig', () => {
  const lines = redisConfig({ dir: '/stack/redis', port: 16379 }).split('\n');

  it('turns AOF on, so a killed server comes back with its data', () => {
    expect(lines).toContain('appendonly yes');
  });

  it('binds loopback on the chosen port and keeps its files in its folder', () => {
    expect(lines).toEqual(expect.arrayContaining(['bind 127.0.0.1', 'port 16379', 'dir /stack/redis']));
  });

  it('asks for a password only when given one', () => {
    expect(lines.some((line) => line.startsWith('requirepass'))).toBe(false);
    expect(redisConfig({ dir: '/stack/redis', port: 16379, password: 'pw' }).split('\n')).toContain('requirepass pw');
  });
});
