/**
 * The settings a service declares for the topics of one source topic and consumer group: partitions, retry
 * tiers, replication factor, `min.insync.replicas`, retention, `max.message.bytes` and cleanup policy. They come
 * from `orderly topics` flags or from a `topics.yaml` kept beside the service's code, are validated here in one
 * pass (every problem named), and are what `topics create` makes and `topics check` verifies.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ConfigurationError } from '../core/errors.ts';

/** The Kafka settings of one topic; an unset one is left to the broker and not checked. */
export interface TopicSettings {
  /** Copies of each partition (`replication.factor`). @defaultValue the broker's `default.replication.factor` */
  replicationFactor?: number;
  /** Replicas that must acknowledge an acks=all write (`min.insync.replicas`). @defaultValue the broker's */
  minInsyncReplicas?: number;
  /** How long records are kept, in ms; -1 keeps them forever (`retention.ms`). @defaultValue the broker's (7 days) */
  retentionMs?: number;
  /** The largest record batch the topic accepts, in bytes (`max.message.bytes`). @defaultValue the broker's (about 1 MiB) */
  maxMessageBytes?: number;
  /** `cleanup.policy` of the source (the retry tiers and the DLT are always `delete`). @defaultValue `'delete'` (the broker's) */
  cleanupPolicy?: 'delete' | 'compact' | 'compact,delete';
}

/** One source topic and consumer group: its layout and the settings of its topics. */
export interface TopicDeclaration {
  /** The source topic. */
  topic: string;
  /** The consumer group that owns the retry tiers and the DLT. */
  group: string;
  /** Retry tiers (the consumer's `retryTiersMs` length). @defaultValue 4 */
  tiers: number;
  /** Delay levels `<topic>.<group>.delay.<n>` (the consumer's `delayLevelsMs` length; settings of the retry tiers). @defaultValue 0 */
  delayLevels: number;
  /** Partition count of the source (needed to create it); the tiers and the DLT always get the source's. */
  partitions?: number;
  /** Settings of the source. */
  settings: TopicSettings;
  /**
   * Settings of the retry tiers: those of the source, but always `cleanup.policy=delete` (a compacted tier
   * would drop the earlier of two records of one key still waiting for their retry).
   */
  retries: TopicSettings;
  /**
   * Settings of the DLT: those of the source, with retention forever unless declared otherwise, and always
   * `cleanup.policy=delete` (compaction would lose dead letters, and the broker refuses the DeleteRecords that
   * `orderly dlt purge` sends to a compacted topic).
   */
  deadLetter: TopicSettings;
}

/** The Kafka config names of {@link TopicSettings} (replication factor is a property of the partitions). */
export const topicConfigNames = {
  minInsyncReplicas: 'min.insync.replicas',
  retentionMs: 'retention.ms',
  maxMessageBytes: 'max.message.bytes',
  cleanupPolicy: 'cleanup.policy',
} as const satisfies Record<Exclude<keyof TopicSettings, 'replicationFactor'>, string>;

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A retention: milliseconds, a duration (`500ms`, `30s`, `15m`, `12h`, `7d`), or `forever` / `-1`. */
export function parseRetention(value: string | number): number {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (value === -1) return -1;
    if (Number.isInteger(value) && value > 0) ms = value;
  } else {
    const text = value.trim().toLowerCase();
    if (text === 'forever' || text === 'infinite' || text === '-1') return -1;
    const match = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(text);
    if (match && Number(match[1]) > 0) ms = Number(match[1]) * units[match[2] ?? 'ms']!;
  }
  if (ms !== undefined) {
    // Past 2^53 - 1 a number no longer holds every integer: the broker would get a different value, or 8.64e27.
    if (Number.isSafeInteger(ms)) return ms;
    throw new ConfigurationError([`retention "${value}" is too large: at most ${Number.MAX_SAFE_INTEGER} ms (about 285,000 years); use forever to keep records forever`]);
  }
  throw new ConfigurationError([`retention "${value}" is not a duration: use milliseconds, 30s, 15m, 12h, 7d, or forever`]);
}

/** A retention as an operator reads it: `forever`, `7d`, `90m`, `1500 ms`. */
export function formatRetention(ms: number): string {
  if (ms < 0) return 'forever';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms} ms`;
}

const positiveInt = z.number().int().positive();
const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'may hold only letters, digits, ".", "_" and "-"');
const retention = z.union([z.number(), z.string()]).transform((value, context) => {
  try {
    return parseRetention(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as ConfigurationError).problems[0]! });
    return z.NEVER;
  }
});

const settingsSchema = z
  .object({
    replicationFactor: positiveInt.max(32).optional(),
    minInsyncReplicas: positiveInt.max(32).optional(),
    retention: retention.optional(),
    maxMessageBytes: positiveInt.optional(),
    cleanupPolicy: z.enum(['delete', 'compact', 'compact,delete']).optional(),
  })
  .strict();

const declarationSchema = settingsSchema
  .extend({
    topic: kafkaName,
    group: kafkaName,
    tiers: z.number().int().min(0).max(20).default(4),
    delayLevels: z.number().int().min(0).max(10).default(0),
    partitions: positiveInt.max(100_000).optional(),
    deadLetter: settingsSchema
      .omit({ replicationFactor: true })
      .extend({ cleanupPolicy: z.enum(['delete'], { error: 'must be delete: a compacted DLT loses dead letters, and `orderly dlt purge` cannot delete its records' }).optional() })
      .strict()
      .optional(),
  })
  .strict();

const fileSchema = z.object({ defaults: settingsSchema.optional(), topics: z.array(z.unknown()).min(1, 'must list at least one source topic') }).strict();

/** Input of {@link declareTopics}: what flags or one entry of `topics.yaml` say. */
export type TopicDeclarationInput = z.input<typeof declarationSchema>;

function settingsOf(input: z.output<typeof settingsSchema>): TopicSettings {
  const settings: TopicSettings = {};
  if (input.replicationFactor !== undefined) settings.replicationFactor = input.replicationFactor;
  if (input.minInsyncReplicas !== undefined) settings.minInsyncReplicas = input.minInsyncReplicas;
  if (input.retention !== undefined) settings.retentionMs = input.retention;
  if (input.maxMessageBytes !== undefined) settings.maxMessageBytes = input.maxMessageBytes;
  if (input.cleanupPolicy !== undefined) settings.cleanupPolicy = input.cleanupPolicy;
  return settings;
}

function problemsOf(issues: readonly z.core.$ZodIssue[], where: string): string[] {
  return issues.map((issue) => `${where}${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
}

/** Validates declarations (every problem in one {@link ConfigurationError}) and fills in the DLT's settings. */
export function declareTopics(inputs: readonly unknown[], where = 'topics', defaults: unknown = {}): TopicDeclaration[] {
  const problems: string[] = [];
  const base = settingsSchema.safeParse(defaults ?? {});
  if (!base.success) problems.push(...problemsOf(base.error.issues, `${where}.defaults`));
  const declarations: TopicDeclaration[] = [];
  inputs.forEach((input, index) => {
    const parsed = declarationSchema.safeParse({ ...(base.success ? base.data : {}), ...(input as object) });
    if (!parsed.success) {
      problems.push(...problemsOf(parsed.error.issues, `${where}[${index}]`));
      return;
    }
    const { topic, group, tiers, delayLevels, partitions, deadLetter, ...rest } = parsed.data;
    const settings = settingsOf(rest);
    if (settings.minInsyncReplicas !== undefined && settings.replicationFactor !== undefined && settings.minInsyncReplicas > settings.replicationFactor) {
      problems.push(`${where}[${index}].minInsyncReplicas: (${settings.minInsyncReplicas}) must not exceed replicationFactor (${settings.replicationFactor}), or no acks=all write could succeed`);
    }
    const declaration: TopicDeclaration = {
      topic,
      group,
      tiers,
      delayLevels,
      settings,
      retries: { ...settings, cleanupPolicy: 'delete' },
      deadLetter: { ...settings, retentionMs: -1, ...settingsOf(deadLetter ?? {}), cleanupPolicy: 'delete' },
    };
    if (partitions !== undefined) declaration.partitions = partitions;
    declarations.push(declaration);
  });
  if (problems.length > 0) throw new ConfigurationError(problems);
  return declarations;
}

/**
 * Reads a `topics.yaml`:
 * ```yaml
 * defaults: { replicationFactor: 3, minInsyncReplicas: 2 }
 * topics:
 *   - { topic: orders, group: billing, partitions: 12, tiers: 4, retention: 7d, maxMessageBytes: 1048576 }
 * ```
 * Each entry may hold `deadLetter: { retention, maxMessageBytes, ... }` (the DLT keeps records forever by default).
 */
export function parseTopicsFile(text: string, path: string): TopicDeclaration[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigurationError([`${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  const parsed = fileSchema.safeParse(document ?? {});
  if (!parsed.success) throw new ConfigurationError(problemsOf(parsed.error.issues, path));
  return declareTopics(parsed.data.topics, `${path}: topics`, parsed.data.defaults);
}

/**
 * The replication a declaration that names none gets on a cluster of `brokers` nodes: from three nodes on,
 * replication factor 3 and `min.insync.replicas` 2 (an acks=all write survives one lost node); below that
 * the broker's defaults. What a declaration names is kept.
 */
export function withReplicationDefaults(declarations: readonly TopicDeclaration[], brokers: number): TopicDeclaration[] {
  if (brokers < 3) return [...declarations];
  const fill = (settings: TopicSettings): TopicSettings => {
    const replicationFactor = settings.replicationFactor ?? 3;
    const minInsyncReplicas = settings.minInsyncReplicas ?? (replicationFactor >= 3 ? 2 : undefined);
    return { ...settings, replicationFactor, ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }) };
  };
  return declarations.map((declaration) => ({
    ...declaration,
    settings: fill(declaration.settings),
    retries: fill(declaration.retries),
    deadLetter: fill(declaration.deadLetter),
  }));
}
