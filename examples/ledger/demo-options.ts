/**
 * The options of the ledger demo (`orderly demo`, `demo produce | work | verify`): one zod schema, validated
 * once, every problem reported together in one {@link ConfigurationError}.
 */
import { z } from 'zod';
import { ConfigurationError } from '../../core/errors.ts';

/** Where the demo runs: the stack's addresses and the demo database. */
export interface DemoConnections {
  /** Comma-separated `host:port` list. */
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  redisUrl: string;
  /** `postgres://...` for PostgreSQL, or `sqlite:<file>` for an embedded SQLite file (node:sqlite). */
  database: string;
}

export interface DemoOptions {
  /** The source topic. @defaultValue `'accounts.ledger'` */
  topic?: string;
  /** The consumer group; its retry tiers and DLT are `<topic>.<group>.retry.<n>` and `<topic>.<group>.dlt`. @defaultValue `'ledger-demo'` */
  group?: string;
  /** Events to publish in this run. @defaultValue 20000 events */
  events?: number;
  /** Accounts (Kafka keys) the events are spread over. @defaultValue 500 accounts */
  keys?: number;
  /** Share of events whose handler fails transiently (1 to 4 attempts, then succeeds). @defaultValue 0.02 */
  failRate?: number;
  /** Share of events whose handler always fails (poison: dead-lettered after the ladder). @defaultValue 0.001 */
  poisonRate?: number;
  /** Partitions of the source topic when the demo creates it (tiers and DLT get the same). @defaultValue 12 */
  partitions?: number;
  /** Worker processes of the all-in-one run. @defaultValue 3 */
  workers?: number;
  /** SIGKILL a random worker every `chaosEverySeconds` and start a new one. @defaultValue false */
  chaos?: boolean;
  /** Seconds between two chaos kills. @defaultValue 10 s */
  chaosEverySeconds?: number;
  /** Give up when nothing was applied or dead-lettered for this long. @defaultValue 180 s */
  stallTimeoutSeconds?: number;
  /**
   * How the workers apply events on PostgreSQL: `'batch'` commits the events ready together in one transaction
   * (`PostgresInbox.batchHandler`), `'per-event'` one transaction per event (`PostgresInbox.handler`). SQLite
   * applies one event per transaction either way. @defaultValue `'batch'`
   */
  inbox?: DemoInboxMode;
  /** Publish through the transactional outbox (PostgreSQL only): relays publish what the writer committed. @defaultValue false */
  viaOutbox?: boolean;
  /** Delayed events: each is due a random time from 0 to this many ms after it is published (`deliverAt`). @defaultValue 0: none delayed */
  delayMs?: number;
}

export const demoInboxModes = ['batch', 'per-event'] as const;
export type DemoInboxMode = (typeof demoInboxModes)[number];

export const defaultDemoOptions = {
  topic: 'accounts.ledger',
  group: 'ledger-demo',
  events: 20_000,
  keys: 500,
  failRate: 0.02,
  poisonRate: 0.001,
  partitions: 12,
  workers: 3,
  chaos: false,
  chaosEverySeconds: 10,
  stallTimeoutSeconds: 180,
  inbox: 'batch',
  viaOutbox: false,
  delayMs: 0,
} satisfies Partial<DemoOptions>;

const name = z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be 1 to 200 letters, digits, ".", "_" or "-" (it is part of topic names)');
const share = z.number().min(0, 'must be a share from 0 to 1, e.g. 0.02').max(1, 'must be a share from 0 to 1, e.g. 0.02');

const optionsSchema = z
  .object({
    topic: name,
    group: name,
    events: z.number().int('must be a whole number of events').positive('must be at least 1 event').max(10_000_000, 'must be at most 10000000 events'),
    keys: z.number().int('must be a whole number of accounts').positive('must be at least 1 account').max(1_000_000, 'must be at most 1000000 accounts'),
    failRate: share,
    poisonRate: share,
    partitions: z.number().int().min(1, 'must be at least 1 partition').max(1_000, 'must be at most 1000 partitions'),
    workers: z.number().int().min(1, 'must be at least 1 worker').max(16, 'must be at most 16 workers'),
    chaos: z.boolean(),
    chaosEverySeconds: z.number().min(1, 'must be at least 1 second').max(3_600, 'must be at most 3600 seconds'),
    stallTimeoutSeconds: z.number().min(10, 'must be at least 10 seconds'),
    inbox: z.enum(demoInboxModes, { message: `must be ${demoInboxModes.join(' or ')}` }),
    viaOutbox: z.boolean(),
    delayMs: z.number().int('must be a whole number of ms').min(0, 'must be at least 0 ms').max(86_400_000, 'must be at most a day (86400000 ms)'),
  })
  .superRefine((options, context) => {
    if (options.failRate + options.poisonRate > 1) {
      context.addIssue({ code: 'custom', path: ['failRate'], message: `(${options.failRate}) plus --poison-rate (${options.poisonRate}) must be at most 1` });
    }
  });

export type ValidDemoOptions = z.output<typeof optionsSchema>;

/** Every violation in one {@link ConfigurationError}, named as its command-line flag. */
export function validateDemoOptions(options: DemoOptions): ValidDemoOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const parsed = optionsSchema.safeParse({ ...defaultDemoOptions, ...defined });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `--${flagOf(String(issue.path[0] ?? ''))}: ${issue.message}`));
}

function flagOf(option: string): string {
  return option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** The retry tiers of the demo's workers, in ms: short, so a run shows the whole ladder in seconds. */
export const demoRetryTiersMs = [1_000, 5_000];
/** The workers' delay levels (docs/scheduling.md): delayed events due within 10 s are held in memory, later ones wait on a level. */
export const demoDelayLevelsMs = [5_000, 60_000];
