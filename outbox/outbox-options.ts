/** The options of the outbox writer and relay: one zod schema each, every problem in one {@link ConfigurationError}. */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { Kafka } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';
import { EventProducer } from '../producers/event-producer.ts';
import type { PublishedEvent } from '../producers/outgoing-event.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { defaultSubjectNameStrategy, subjectNameStrategies, type SubjectNameStrategy } from '../schemas/subject-name-strategy.ts';

export interface OutboxWriterOptions {
  /** The schema registry: every event is encoded and checked against it when it is added. */
  registry: SchemaRegistryClient;
  /** The outbox table, `name` or `schema.name` (create it with `createOutboxTables`). @defaultValue `'orderly_outbox'` */
  table?: string;
  /** How value subjects are named, as the producer names them. @defaultValue `'topic'` */
  subjectNameStrategy?: SubjectNameStrategy;
  /** Register a schema the subject lacks (development). `false`: the schema must be registered already. @defaultValue false */
  autoRegister?: boolean;
  /** The largest encoded value accepted; a larger one fails the add (and so the business transaction). @defaultValue 1000000 bytes */
  maxPayloadBytes?: number;
}

export const defaultOutboxWriterOptions = {
  table: 'orderly_outbox',
  subjectNameStrategy: defaultSubjectNameStrategy,
  autoRegister: false,
  maxPayloadBytes: 1_000_000,
} satisfies Partial<OutboxWriterOptions>;

const writerSchema = z.object({
  registry: z.custom<SchemaRegistryClient>((value) => value instanceof SchemaRegistryClient, 'must be a SchemaRegistryClient'),
  table: z.string().min(1),
  subjectNameStrategy: z.enum(subjectNameStrategies),
  autoRegister: z.boolean(),
  maxPayloadBytes: z.number().int().positive('must be a positive number of bytes').max(100_000_000, 'must be at most 100000000 bytes'),
});

export type ValidOutboxWriterOptions = z.output<typeof writerSchema>;

export function validateOutboxWriterOptions(options: OutboxWriterOptions): ValidOutboxWriterOptions {
  const parsed = writerSchema.safeParse({ ...defaultOutboxWriterOptions, ...definedOf(options) });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `outboxWriter.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

export interface OutboxRelayOptions {
  /** The database of the outbox. The relay holds at most `concurrency` + 1 of its connections (plus one for LISTEN). */
  pool: Pool;
  /** The connection string of the LISTEN connection (a pooled client cannot keep listening). @defaultValue no LISTEN: polling only */
  listenConnectionString?: string;
  /** The producer the rows are published through (the caller's: it owns its settings and closes it). */
  producer: EventProducer;
  /** The Kafka client, to tell a topic that does not exist (its rows are marked failed) from a broker outage. */
  kafka: Kafka;
  /** The outbox table, as the writers name it. @defaultValue `'orderly_outbox'` */
  table?: string;
  /** Rows read and published at once (one read, one publish); a claim goes on with up to 7 more such batches of its shards. @defaultValue 500 rows */
  batchSize?: number;
  /** Shards (of 64) one claim takes at most. @defaultValue 16 shards */
  shardsPerClaim?: number;
  /** Claims this relay works on at once, each on its own connection and its own shards. @defaultValue 2 */
  concurrency?: number;
  /** Polling interval when no NOTIFY arrives (the fallback when LISTEN is off or its connection is lost). @defaultValue 1000 ms */
  pollIntervalMs?: number;
  /**
   * How long sent rows are kept (state sent, with their partition and offset) before a sweep deletes them.
   * 0 deletes each row in the transaction that marks it sent. @defaultValue 0 ms
   */
  retentionMs?: number;
  /** Time limit of one claim (select, publish, mark): past it the claim's transaction is abandoned and its rows republished. @defaultValue 60000 ms */
  claimTimeoutMs?: number;
  /** Back-off after a failed claim (a broker or database outage), doubling up to 30 s. @defaultValue 500 ms */
  retryBackoffMs?: number;
  /** How often the depth and the age of the oldest unsent row are measured (metrics). @defaultValue 5000 ms */
  statusIntervalMs?: number;
  /** How long `stop()` waits for claims in flight before it abandons them (they are republished). @defaultValue 10000 ms */
  shutdownTimeoutMs?: number;
  /** The prom-client registry of the outbox metrics. @defaultValue a new registry */
  metricsRegistry?: Registry;
  /** Called after each claim commits, with the events it published (benchmarks, tests). @defaultValue none */
  onPublished?: (events: readonly RelayedEvent[]) => void;
  /** A pino logger; silent by default. */
  logger?: Logger;
}

/** An event the relay published and marked sent. */
export interface RelayedEvent extends PublishedEvent {
  /** When the writer inserted the row (its transaction committed after). */
  writtenAt: Date;
}

export const defaultOutboxRelayOptions = {
  table: 'orderly_outbox',
  batchSize: 500,
  shardsPerClaim: 16,
  concurrency: 2,
  pollIntervalMs: 1_000,
  retentionMs: 0,
  claimTimeoutMs: 60_000,
  retryBackoffMs: 500,
  statusIntervalMs: 5_000,
  shutdownTimeoutMs: 10_000,
} satisfies Partial<OutboxRelayOptions>;

const milliseconds = z.number().int().positive('must be a positive number of milliseconds');

const relaySchema = z.object({
  pool: z.custom<Pool>((value) => typeof (value as Pool | undefined)?.connect === 'function', 'must be a pg Pool'),
  listenConnectionString: z.string().min(1).optional(),
  producer: z.custom<EventProducer>((value) => value instanceof EventProducer, 'must be an EventProducer'),
  kafka: z.custom<Kafka>((value) => typeof (value as Kafka | undefined)?.admin === 'function', 'must be a Kafka client from createKafkaClient'),
  table: z.string().min(1),
  batchSize: z.number().int().positive('must be a positive number of rows').max(10_000, 'must be at most 10000 rows'),
  shardsPerClaim: z.number().int().min(1).max(64, 'must be at most 64 shards'),
  concurrency: z.number().int().min(1).max(16, 'must be at most 16'),
  pollIntervalMs: milliseconds,
  retentionMs: z.number().int().min(0, 'must be 0 or more milliseconds'),
  claimTimeoutMs: milliseconds.min(1_000, 'must be at least 1000 ms'),
  retryBackoffMs: milliseconds,
  statusIntervalMs: milliseconds,
  shutdownTimeoutMs: milliseconds,
  metricsRegistry: z.custom<Registry>((value) => typeof (value as Registry | undefined)?.registerMetric === 'function', 'must be a prom-client Registry').optional(),
  onPublished: z.custom<(events: readonly RelayedEvent[]) => void>((value) => typeof value === 'function', 'must be a function').optional(),
  logger: z.custom<Logger>((value) => typeof (value as Logger | undefined)?.child === 'function', 'must be a pino logger').optional(),
});

export type ValidOutboxRelayOptions = z.output<typeof relaySchema>;

export function validateOutboxRelayOptions(options: OutboxRelayOptions): ValidOutboxRelayOptions {
  const parsed = relaySchema.safeParse({ ...defaultOutboxRelayOptions, ...definedOf(options) });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `outboxRelay.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

function definedOf<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
