/**
 * What `orderly console` (and a service mounting the console) is given, validated in one pass: every problem
 * named in one {@link ConfigurationError}. Secure by default: bound to 127.0.0.1, a token always required.
 */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { KafkaClientOptions } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';

export interface ConsoleOptions {
  /** The Kafka cluster (brokers, TLS, SASL). */
  kafka: KafkaClientOptions;
  /** Redis of the parking and replay stores; without it the parked keys page and replays are unavailable. */
  redisUrl?: string;
  /** Schema registry, to decode Avro payloads by their writer schema. */
  registryUrl?: string;
  /** PostgreSQL of the outbox; without it the Outbox page says so. */
  databaseUrl?: string;
  /** @defaultValue `'orderly_outbox'` */
  outboxTable?: string;
  /** @defaultValue `'orderly.schedules'` */
  scheduleTopic?: string;
  /** Consumer groups shown. @defaultValue every consumer group the broker lists (Orderly's own readers and cron leadership groups left out) */
  groups?: string[];
  /** Source topics shown. @defaultValue the topics each group has committed offsets for */
  topics?: string[];
  /** Consumers' `/metrics` endpoints, scraped for paused partitions, in-flight handlers and queued records. */
  metricsUrls?: string[];
  /** Bearer token those endpoints ask for (`ORDERLY_METRICS_TOKEN`). */
  metricsToken?: string;
  /** Required on every request (header `Authorization: Bearer`, or the login). At least 16 characters. @defaultValue a random one */
  token?: string;
  /** @defaultValue `'127.0.0.1'` */
  host?: string;
  /** 0 picks a free port. @defaultValue 8088 */
  port?: number;
  /**
   * Host names (without port) the `Host` header may carry; another is answered 421 before anything else, so a
   * page of another site whose name was rebound to this address (DNS rebinding) reaches nothing, not even the
   * login. @defaultValue `127.0.0.1`, `localhost` and `[::1]` when {@link startConsole} binds a loopback address;
   * no check otherwise (a mounted console: the service's proxy decides)
   */
  allowedHosts?: string[];
  /** Path prefix when mounted in a service's server (`/ops/console`). @defaultValue `''` */
  basePath?: string;
  /** Show decoded payloads of dead letters; false for data with PII (`--no-payloads`). @defaultValue true */
  showPayloads?: boolean;
  /** Replays per second at most. @defaultValue 100 */
  replayRatePerSecond?: number;
  /** Refuse a record already replayed this many times. @defaultValue 3 */
  maxReplays?: number;
  /** How often the Overview and Group pages refresh, ms. @defaultValue 5000 */
  refreshMs?: number;
  /** Audit records (who, what, when) and request failures are logged here, at info and warn. @defaultValue silent */
  logger?: Logger;
}

const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'may hold only letters, digits, ".", "_" and "-"');

const optionsSchema = z.object({
  kafka: z.custom<KafkaClientOptions>((value) => Array.isArray((value as KafkaClientOptions | undefined)?.brokers) && (value as KafkaClientOptions).brokers.length > 0, 'must name at least one broker'),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  registryUrl: z.url().optional(),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  outboxTable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'must be a table name or schema.name').default('orderly_outbox'),
  scheduleTopic: kafkaName.default('orderly.schedules'),
  groups: z.array(kafkaName).optional(),
  topics: z.array(kafkaName).optional(),
  metricsUrls: z.array(z.url()).default([]),
  metricsToken: z.string().optional(),
  token: z
    .string()
    .min(16, 'must be at least 16 characters (a random string, e.g. `openssl rand -hex 16`)')
    .regex(/^[\x21-\x7e]+$/, 'may hold only printable ASCII without spaces (it travels in an HTTP header)')
    .optional(),
  allowedHosts: z.array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/, 'must be a host name or address without port ([::1] for IPv6)')).min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8088),
  basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must be empty or a path such as /ops/console (no trailing slash)').default(''),
  showPayloads: z.boolean().default(true),
  replayRatePerSecond: z.number().positive().default(100),
  maxReplays: z.number().int().positive().default(3),
  refreshMs: z.number().int().min(500).default(5_000),
  logger: z.custom<Logger>().optional(),
});

/** A loopback address or name: only this machine can connect, so the Host header is the last line against DNS rebinding. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export type ValidConsoleOptions = z.output<typeof optionsSchema>;

export function validateConsoleOptions(options: ConsoleOptions): ValidConsoleOptions {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `console.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}
