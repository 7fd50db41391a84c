/**
 * A private `redis-server` for the stack, with AOF on, so tests may kill and restart it without touching a
 * shared Redis. Used only when `REDIS_URL` is not set.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { OrderlyError } from '../../core/errors.ts';
import { isAlive, spawnDetached, waitFor } from './process-control.ts';
import { redactUrl } from './postgres-check.ts';

export interface RedisServerConfig {
  /** Its folder: `redis.conf`, the AOF files, `redis.log`. */
  dir: string;
  port: number;
  /** `requirepass` (the security smoke); the URL then carries it. @defaultValue none */
  password?: string;
}

/** The server's configuration. Pure, so a unit test can read it. */
export function redisConfig({ dir, port, password }: RedisServerConfig): string {
  return [
    'bind 127.0.0.1',
    `port ${port}`,
    'protected-mode yes',
    `dir ${dir}`,
    'appendonly yes',
    // Redis's recommended default: at most one second of writes is lost on a crash of the machine.
    'appendfsync everysec',
    'save ""',
    'daemonize no',
    `logfile ${join(dir, 'redis.log')}`,
    ...(password === undefined ? [] : [`requirepass ${password}`]),
  ].join('\n');
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function startRedisServer(config: RedisServerConfig): number {
  if (!redisServerInstalled()) {
    throw new OrderlyError(
      'STACK_START_FAILED',
      'redis-server is not installed: install it (Debian: apt-get install -y redis-server) or set REDIS_URL.',
    );
  }
  mkdirSync(config.dir, { recursive: true });
  const configFile = join(config.dir, 'redis.conf');
  writeFileSync(configFile, `${redisConfig(config)}\n`);
  return spawnDetached('redis-server', [configFile], { cwd: config.dir, logFile: join(config.dir, 'stdout.log') });
}

export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on('error', () => undefined); // a refused connection is the answer, not an error to report
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function waitForRedis(url: string, pid: number | undefined, timeoutMs = 20_000): Promise<void> {
  const ready = await waitFor(() => redisAnswers(url), {
    timeoutMs,
    onTick: () => {
      if (pid !== undefined && !isAlive(pid)) {
        throw new OrderlyError('STACK_START_FAILED', `redis-server exited at start; see its redis.log`);
      }
    },
  });
  if (!ready) throw new OrderlyError('STACK_UNAVAILABLE', `Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms`);
}
