/**
 * Where the CLI finds the stack: a flag, else the environment (`KAFKA_BROKERS`, `REDIS_URL`,
 * `SCHEMA_REGISTRY_URL`), else the settings `orderly stack up` wrote to `.orderly/stack.env`. A missing
 * setting is a {@link ConfigurationError} that says all three ways to give it.
 */
import { Redis } from 'ioredis';
import { ConfigurationError } from '../../core/errors.ts';
import { createKafkaClient, kafkaClientOptionsFromEnv, type Admin, type Kafka } from '../../core/kafka-client.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
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

/** Runs `work` with a Redis client that gives up after a few reconnects (a CLI must not hang), closed after. */
export async function withRedis<R>(url: string | undefined, work: (redis: Redis) => Promise<R>): Promise<R> {
  const redis = new Redis(requiredSetting('REDIS_URL', url), {
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
    lazyConnect: true,
  });
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}
