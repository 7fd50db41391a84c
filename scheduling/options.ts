/** The options of {@link CronScheduler}: one zod schema, validated once, every problem reported together. */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { KafkaClientOptions } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';

export interface CronSchedulerOptions {
  kafka: KafkaClientOptions;
  /** The schedule's name: the tick's key, part of its event id and of the leadership group `orderly-cron.<name>`. */
  name: string;
  /** A cron expression: 5 fields, or 6 with seconds first (`* * * * * *`: every second; `0 0 2 * * *`: 02:00 every day). */
  schedule: string;
  /** The IANA time zone the expression is read in. @defaultValue `'UTC'` */
  timezone?: string;
  /** The topic the ticks go to. It must exist (topics are never auto-created). */
  topic: string;
  /**
   * The schedule topic: one partition, `cleanup.policy=compact`, shared by schedules. Its group decides the
   * leader and it keeps each schedule's last slot. It must exist: `orderly cron init` creates it.
   * @defaultValue `'orderly.schedules'`
   */
  scheduleTopic?: string;
  /** Slots missed while no leader ran: `'catch-up'` publishes them (at most `maxCatchUp`), `'skip'` only the latest. @defaultValue `'catch-up'` */
  missedSlots?: 'catch-up' | 'skip';
  /** With `'catch-up'`, the most missed slots published at once (the newest); older ones are skipped and counted. At most 1000. @defaultValue 100 */
  maxCatchUp?: number;
  /** This instance's name, in the claim and in `orderly cron list`. @defaultValue `<hostname>:<pid>` */
  instance?: string;
  /** Session timeout of the leadership group: how long a dead leader keeps the schedule. Brokers accept 6000 ms and up by default. @defaultValue 6000 */
  sessionTimeoutMs?: number;
  /** @defaultValue 500 */
  heartbeatIntervalMs?: number;
  /** How long a new leader waits to read the schedule topic up to its own claim before it gives up and retries. @defaultValue 30000 */
  claimTimeoutMs?: number;
  /** Kafka transaction timeout of the tick producer: how long a frozen leader's open transaction can hold back read_committed readers when no successor fences it. @defaultValue 10000 */
  transactionTimeoutMs?: number;
  /**
   * How long before a slot the leader writes its tick, in a transaction it commits at the slot, so that only the
   * commit is left to do after the slot. Readers with read_committed see nothing before the commit; they wait up to
   * this long behind the open transaction for other records of the same partitions. 0: write and commit at the slot.
   * Below `transactionTimeoutMs`. @defaultValue 200
   */
  prepareAheadMs?: number;
  /** The clock, in epoch ms (tests move it). @defaultValue `Date.now` */
  now?: () => number;
  /** A pino logger; silent by default. */
  logger?: Logger;
}

const optionsSchema = z.object({
  name: z.string().min(1, 'must name the schedule').max(200).regex(/^[A-Za-z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-" (it names the leadership group)'),
  schedule: z.string().min(1, 'must be a cron expression'),
  timezone: z.string().min(1).default('UTC'),
  topic: z.string().min(1, 'must name the tick topic'),
  scheduleTopic: z.string().min(1).default('orderly.schedules'),
  missedSlots: z.enum(['catch-up', 'skip']).default('catch-up'),
  maxCatchUp: z.number().int().positive().max(1_000).default(100),
  instance: z.string().min(1).max(200).optional(),
  sessionTimeoutMs: z.number().int().positive().default(6_000),
  heartbeatIntervalMs: z.number().int().positive().default(500),
  claimTimeoutMs: z.number().int().positive().default(30_000),
  transactionTimeoutMs: z.number().int().positive().default(10_000),
  prepareAheadMs: z.number().int().min(0).max(5_000).default(200),
});

export type ValidCronSchedulerOptions = z.output<typeof optionsSchema> & Pick<CronSchedulerOptions, 'kafka' | 'now' | 'logger'>;

export function validateCronSchedulerOptions(options: CronSchedulerOptions): ValidCronSchedulerOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ConfigurationError(parsed.error.issues.map((issue) => `cron.${issue.path.join('.') || '(root)'}: ${issue.message}`));
  if (parsed.data.heartbeatIntervalMs * 3 > parsed.data.sessionTimeoutMs) {
    throw new ConfigurationError(['cron.heartbeatIntervalMs: must be at most a third of sessionTimeoutMs']);
  }
  if (parsed.data.prepareAheadMs >= parsed.data.transactionTimeoutMs) {
    throw new ConfigurationError(['cron.prepareAheadMs: must be below transactionTimeoutMs (the broker would abort the open transaction before its slot)']);
  }
  return { ...parsed.data, kafka: options.kafka, now: options.now, logger: options.logger };
}
