/** The options of {@link LagMonitor}: one zod schema, validated once, every problem reported together. */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { KafkaClientOptions } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';
import { OrderlyMetrics } from './metrics.ts';

export interface LagMonitorOptions {
  /** How to reach the cluster (the monitor uses the admin API only). */
  kafka: KafkaClientOptions;
  /** The consumer group whose lag is measured. */
  groupId: string;
  /** Its source topics; their retry tiers and DLT (`<topic>.<group>.retry.<n>`, `<topic>.<group>.dlt`) are found by name. */
  topics: string[];
  /** Time between polls, in ms. @defaultValue 15000 */
  intervalMs?: number;
  /** Past this long without a successful poll, in ms, the lag counts as unknown and `/readyz` fails. @defaultValue 3 × intervalMs */
  staleAfterMs?: number;
  /** How long a source partition may keep lag without its committed offset moving before it counts as stuck, in ms. @defaultValue 300000 */
  stuckAfterMs?: number;
  /**
   * The delays of the group's retry tiers, in ms: a tier partition waits for its head to be due, so it counts
   * as stuck only after `stuckAfterMs` plus its delay and 10 % jitter. @defaultValue [1000, 10000, 60000, 600000] (the consumer's default)
   */
  retryTiersMs?: number[];
  /** Where to report; `null` reports nowhere but {@link LagMonitor.latest}. @defaultValue the shared metrics (`sharedOrderlyMetrics()`) */
  metrics?: OrderlyMetrics | null;
  /** A pino logger: an error line when a partition becomes stuck. @defaultValue silent */
  logger?: Logger;
}

export const defaultLagMonitorOptions = {
  intervalMs: 15_000,
  stuckAfterMs: 300_000,
  retryTiersMs: [1_000, 10_000, 60_000, 600_000],
} satisfies Partial<LagMonitorOptions>;

const optionsSchema = z.object({
  kafka: z.object({ brokers: z.array(z.string()).min(1, 'needs at least one broker (set KAFKA_BROKERS, e.g. 127.0.0.1:9092)') }).passthrough(),
  groupId: z.string().min(1, 'must name the consumer group to measure'),
  topics: z.array(z.string().min(1)).min(1, 'name at least one source topic (topics: [...])'),
  intervalMs: z.number().int().min(100, 'must be at least 100 ms (each poll makes a few admin requests)').default(defaultLagMonitorOptions.intervalMs),
  staleAfterMs: z.number().int().positive().optional(),
  stuckAfterMs: z.number().int().positive().default(defaultLagMonitorOptions.stuckAfterMs),
  retryTiersMs: z.array(z.number().int().positive()).default(defaultLagMonitorOptions.retryTiersMs),
  metrics: z.instanceof(OrderlyMetrics, { message: 'must be an OrderlyMetrics, or null to report nowhere' }).nullable().optional(),
  logger: z.custom<Logger>((value) => value === undefined || (typeof value === 'object' && value !== null && 'child' in value), 'must be a pino logger').optional(),
});

export type ValidLagMonitorOptions = Omit<z.output<typeof optionsSchema>, 'kafka' | 'staleAfterMs'> & { kafka: KafkaClientOptions; staleAfterMs: number };

export function validateLagMonitorOptions(options: LagMonitorOptions): ValidLagMonitorOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigurationError(parsed.error.issues.map((issue) => `lagMonitor.${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return { ...parsed.data, kafka: options.kafka, staleAfterMs: parsed.data.staleAfterMs ?? 3 * parsed.data.intervalMs };
}
