/**
 * Where the CLI finds the stack: a flag, else the environment (`KAFKA_BROKERS`, `REDIS_URL`,
 * `SCHEMA_REGISTRY_URL`), else the settings `orderly stack up` wrote to `.orderly/stack.env`. A missing
 * setting is a {@link ConfigurationError} that says all three ways to give it.
 */
import { Redis } from 'ioredis';
import { ConfigurationError, OrderlyError } from '../../core/errors.ts';
import { createKafkaClient, kafkaClientOptionsFromEnv, type Admin, type Kafka } from '../../core/kafka-client.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { redactUrl } from '../../infra/stack/postgres-check.ts';
import { readSettings, type StackSettings } from '../../infra/stack/stack-settings.ts';

export type SettingName = 'KAFKA_BROKERS' | 'REDIS_URL' | 'SCHEMA_REGISTRY_URL';

const flagOf: Record<SettingName, string> = { KAFKA_BROKERS: '--brokers', REDIS_URL: '--redis', SCHEMA_REGISTRY_URL: '--registry' };

/** The value of a setting, or undefined when no source gives it. */
export function optionalSetting(name: SettingName, given?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (given) return given;
  if (env[name]) return env[name];
  const stackSettings: Partial<StackSettings> | undefined = readSettings(defaultStackDir(env));
  return stackSettings?.[name] || undefined;
}

export function requiredSetting(name: SettingName, given?: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = optionalSetting(name, given, env);
  if (value === undefined) throw new ConfigurationError([`${name} is not set: pass ${flagOf[name]}, set ${name}, or run \`orderly stack up\``]);
  return value;
}

/** A Kafka client for `--brokers` (else KAFKA_BROKERS, else the stack), with TLS/SASL from the environment. */
export function cliKafka(brokers?: string): Kafka {
  const options = kafkaClientOptionsFromEnv();
  options.brokers = requiredSetting('KAFKA_BROKERS', brokers).split(',').map((broker) => broker.trim()).filter(Boolean);
  options.clientId = options.clientId ?? 'orderly-cli';
  return createKafkaClient(options);
}

/** Runs `work` with a connected admin client, disconnected after. */
export async function withAdmin<R>(kafka: Kafka, work: (admin: Admin) => Promise<R>): Promise<R> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

function refusesPassword(error: unknown): boolean {
  return /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test((error as Error | undefined)?.message ?? '');
}

/** Why the CLI could not use Redis, naming the server without its password. */
export function redisConnectError(error: unknown, url: string): OrderlyError {
  const message = (error as Error).message;
  const fix = refusesPassword(error) ? ': check the password in REDIS_URL (or --redis), e.g. redis://:password@host:6379' : '';
  return new OrderlyError('STACK_UNAVAILABLE', `Redis at ${redactUrl(url)} refused the connection${fix} (${message})`, { cause: error });
}

/** Runs `work` with a Redis client that gives up after a few reconnects (a CLI must not hang), closed after. */
export async function withRedis<R>(url: string | undefined, work: (redis: Redis) => Promise<R>): Promise<R> {
  const redis = new Redis(requiredSetting('REDIS_URL', url), {
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
    lazyConnect: true,
  });
  // A refused connection is reported once, by connect() below, not as an "unhandled error event" per retry;
  // a refused password is not retried at all.
  let lastError: unknown;
  redis.on('error', (error: Error) => {
    lastError = error;
    if (refusesPassword(error)) redis.disconnect();
  });
  try {
    await redis.connect().catch((error: unknown) => Promise.reject(redisConnectError(lastError ?? error, requiredSetting('REDIS_URL', url))));
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}
