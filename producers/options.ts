import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import { compressionNames, type CompressionName } from '../core/compression/compression.ts';
import type { Kafka } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { defaultSubjectNameStrategy, subjectNameStrategies, type SubjectNameStrategy } from '../schemas/subject-name-strategy.ts';

export interface EventProducerOptions {
  /** The Kafka client (`createKafkaClient`). The producer creates its own kafkajs producer from it. */
  kafka: Kafka;
  /** The schema registry. */
  registry: SchemaRegistryClient;
  /** The topic of events that name none. @defaultValue none: each event names its topic */
  topic?: string;
  /** How value subjects are named: `'topic'` (`<topic>-value`), `'record'` (full name), `'topic-record'`. @defaultValue `'topic'` */
  subjectNameStrategy?: SubjectNameStrategy;
  /** Register a schema the subject lacks on first use (development). `false`: look up only (production). @defaultValue false */
  autoRegister?: boolean;
  /** Events accepted and not yet acknowledged, at most. Bounds memory. @defaultValue 1000 events */
  maxInFlight?: number;
  /** At the bound: `'wait'` until there is room, or `'reject'` with a BackpressureError. @defaultValue `'wait'` */
  onFull?: 'wait' | 'reject';
  /**
   * Produce requests in flight per broker connection. Per-key order does not depend on it: a send waits for
   * the earlier sends of its keys (kafkajs, unlike Java, can retry a failed batch behind a later one of the same
   * partition). @defaultValue 1
   */
  maxInFlightRequests?: number;
  /**
   * A token bucket per producer: at most `eventsPerSecond` on average, bursts of up to `burst` events
   * (default: one second's worth). Past it a publish waits for tokens (`onLimit: 'wait'`, in order) or throws
   * a {@link RateLimitError} (`'reject'`). @defaultValue no limit
   */
  rateLimit?: { eventsPerSecond: number; burst?: number; onLimit?: 'wait' | 'reject' };
  /** Time the broker has to acknowledge a produce request (acks=all). @defaultValue 30000 ms */
  ackTimeoutMs?: number;
  /**
   * The codec of each produce request's record batches, as Kafka's `compression.type` names them. Every Orderly
   * consumer reads all of them; see docs/compression.md for what each costs. @defaultValue `'none'`
   */
  compression?: CompressionName;
  /** A pino logger; silent by default. */
  logger?: Logger;
}

export const defaultEventProducerOptions = {
  subjectNameStrategy: defaultSubjectNameStrategy,
  autoRegister: false,
  maxInFlight: 1000,
  onFull: 'wait',
  maxInFlightRequests: 1,
  ackTimeoutMs: 30_000,
  compression: 'none',
} satisfies Partial<EventProducerOptions>;

const optionsSchema = z.object({
  kafka: z.custom<Kafka>((value) => typeof (value as Kafka | undefined)?.producer === 'function', 'must be a Kafka client from createKafkaClient'),
  registry: z.custom<SchemaRegistryClient>((value) => value instanceof SchemaRegistryClient, 'must be a SchemaRegistryClient'),
  topic: z.string().min(1, 'must not be empty').optional(),
  subjectNameStrategy: z.enum(subjectNameStrategies),
  autoRegister: z.boolean(),
  maxInFlight: z.number().int().positive('must be a positive number of events').max(1_000_000, 'must be at most 1000000 events'),
  onFull: z.enum(['wait', 'reject']),
  maxInFlightRequests: z.number().int().min(1).max(5, 'must be 1 to 5 for an idempotent producer'),
  rateLimit: z
    .object({
      eventsPerSecond: z.number().positive('must be a positive number of events per second').max(10_000_000, 'must be at most 10000000 events per second'),
      burst: z.number().int('must be a whole number of events').positive('must be a positive number of events').max(1_000_000, 'must be at most 1000000 events').optional(),
      onLimit: z.enum(['wait', 'reject']).default('wait'),
    })
    .strict()
    .transform(({ eventsPerSecond, burst, onLimit }) => ({ eventsPerSecond, burst: burst ?? Math.max(1, Math.ceil(eventsPerSecond)), onLimit }))
    .optional(),
  ackTimeoutMs: z.number().int().positive('must be a positive number of milliseconds'),
  compression: z.enum(compressionNames, { message: `must be one of ${compressionNames.join(', ')}` }),
  logger: z.custom<Logger>((value) => typeof (value as Logger | undefined)?.child === 'function', 'must be a pino logger').optional(),
});

export type ValidEventProducerOptions = z.output<typeof optionsSchema>;

/** Every violation in one {@link ConfigurationError}. */
export function validateEventProducerOptions(options: EventProducerOptions): ValidEventProducerOptions {
  const parsed = optionsSchema.safeParse({ ...defaultEventProducerOptions, ...options });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `producer.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}
