/**
 * The Prometheus metrics of Orderly (prom-client), listed in one place. Names follow the Prometheus
 * conventions (`orderly_` prefix, base units, `_total` on counters) and carry low-cardinality labels only:
 * `group`, `topic` (always the source topic), `tier` (`source`, `1`, `2`, ...), `partition` and `reason`.
 * Never a key or an event id.
 *
 * One {@link OrderlyMetrics} serves every consumer and lag monitor of a process; they tell themselves apart by
 * the `group` label. Gauges that mirror a consumer's state are read at scrape time from the registered sources.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';

/** Every metric the code registers, as its name (rules and dashboards may name only these). */
export const metricNames = [
  'orderly_records_consumed_total',
  'orderly_records_handled_total',
  'orderly_records_failed_total',
  'orderly_records_retried_total',
  'orderly_records_dead_lettered_total',
  'orderly_records_skipped_duplicate_total',
  'orderly_records_fenced_total',
  'orderly_claim_waits_total',
  'orderly_records_abandoned_total',
  'orderly_handler_timeouts_total',
  'orderly_forward_failures_total',
  'orderly_offset_commits_total',
  'orderly_commit_failures_total',
  'orderly_rebalances_total',
  'orderly_handler_duration_seconds',
  'orderly_end_to_end_latency_seconds',
  'orderly_handlers_in_flight',
  'orderly_records_queued',
  'orderly_partitions_paused',
  'orderly_partitions_gated',
  'orderly_parked_keys',
  'orderly_group_joined',
  'orderly_consumer_lag_records',
  'orderly_committed_offset',
  'orderly_log_end_offset',
  'orderly_partition_stuck',
  'orderly_partition_watermark_stalled',
  'orderly_forward_stuck',
  'orderly_dead_letter_records',
  'orderly_dead_letter_oldest_age_seconds',
  'orderly_group_members',
  'orderly_lag_poll_failures_total',
  'orderly_undecodable_batches_total',
  'orderly_client_crashes_total',
  'orderly_client_stalls_total',
  'orderly_rejoins_abandoned_total',
  'orderly_cron_ticks_published_total',
  'orderly_cron_tick_lateness_seconds',
  'orderly_cron_slots_skipped_total',
  'orderly_cron_leader_changes_total',
  'orderly_cron_publish_fenced_total',
  'orderly_cron_publish_failures_total',
  'orderly_cron_leader',
] as const;

export type MetricName = (typeof metricNames)[number];

/** What a consumer reports at scrape time (see `OrderedConsumer.stats()` and `parkedKeys()`). */
export interface ConsumerGaugeSource {
  groupId: string;
  stats(): { inFlight: number; queued: number; pausedPartitions: number; gatedPartitions: number };
  parkedKeys(): Promise<number>;
  joined(): boolean;
}

export interface OrderlyMetricsOptions {
  /** The registry to register on; a new one when absent. */
  registry?: Registry;
  /** Also collect prom-client's process metrics (CPU, memory, event-loop lag, GC). @defaultValue `true` */
  processMetrics?: boolean;
  /** Buckets of `orderly_handler_duration_seconds`, in seconds. @defaultValue 1 ms to 60 s */
  handlerDurationBucketsSeconds?: number[];
  /** Buckets of `orderly_end_to_end_latency_seconds`, in seconds. @defaultValue 10 ms to 1 h */
  endToEndLatencyBucketsSeconds?: number[];
  /** Buckets of `orderly_cron_tick_lateness_seconds` (commit time - slot time), in seconds. @defaultValue 5 ms to 5 min */
  tickLatenessBucketsSeconds?: number[];
}

export const defaultOrderlyMetricsOptions = {
  processMetrics: true,
  handlerDurationBucketsSeconds: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  endToEndLatencyBucketsSeconds: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  tickLatenessBucketsSeconds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
} satisfies Partial<OrderlyMetricsOptions>;

const buckets = z
  .array(z.number().positive())
  .min(1, 'needs at least one bucket')
  .refine((list) => list.every((bound, index) => index === 0 || bound > list[index - 1]!), 'must increase strictly, in seconds');

const optionsSchema = z.object({
  registry: z.instanceof(Registry).optional(),
  processMetrics: z.boolean().default(defaultOrderlyMetricsOptions.processMetrics),
  handlerDurationBucketsSeconds: buckets.default(defaultOrderlyMetricsOptions.handlerDurationBucketsSeconds),
  endToEndLatencyBucketsSeconds: buckets.default(defaultOrderlyMetricsOptions.endToEndLatencyBucketsSeconds),
  tickLatenessBucketsSeconds: buckets.default(defaultOrderlyMetricsOptions.tickLatenessBucketsSeconds),
});

export function validateOrderlyMetricsOptions(options: OrderlyMetricsOptions): z.output<typeof optionsSchema> {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `metrics.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

const recordLabels = ['group', 'topic', 'tier'] as const;
const partitionLabels = ['group', 'topic', 'tier', 'partition'] as const;

export class OrderlyMetrics {
  readonly registry: Registry;
  readonly consumed: Counter<'group' | 'topic' | 'tier'>;
  readonly handled: Counter<'group' | 'topic' | 'tier'>;
  readonly failed: Counter<'group' | 'topic' | 'tier'>;
  readonly retried: Counter<'group' | 'topic' | 'tier'>;
  readonly deadLettered: Counter<'group' | 'topic' | 'reason'>;
  readonly skippedDuplicate: Counter<'group' | 'topic' | 'tier'>;
  readonly fenced: Counter<'group' | 'topic' | 'tier'>;
  readonly claimWaits: Counter<'group' | 'topic' | 'tier'>;
  readonly abandoned: Counter<'group' | 'topic' | 'tier' | 'reason'>;
  readonly handlerTimeouts: Counter<'group' | 'topic' | 'tier'>;
  readonly forwardFailures: Counter<'group' | 'topic' | 'tier'>;
  readonly offsetCommits: Counter<'group'>;
  readonly commitFailures: Counter<'group'>;
  readonly rebalances: Counter<'group'>;
  readonly handlerDuration: Histogram<'group' | 'topic' | 'tier'>;
  readonly endToEndLatency: Histogram<'group' | 'topic'>;
  readonly consumerLag: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly committedOffset: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly logEndOffset: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly partitionStuck: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly partitionWatermarkStalled: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly forwardStuck: Gauge<'group' | 'topic' | 'tier' | 'partition'>;
  readonly deadLetterRecords: Gauge<'group' | 'topic' | 'partition'>;
  readonly deadLetterOldestAge: Gauge<'group' | 'topic'>;
  readonly groupMembers: Gauge<'group'>;
  readonly lagPollFailures: Counter<'group'>;
  readonly undecodableBatches: Counter<'group' | 'topic' | 'partition' | 'action'>;
  readonly clientCrashes: Counter<'group' | 'restart'>;
  readonly clientStalls: Counter<'group' | 'reason' | 'restart'>;
  readonly rejoinsAbandoned: Counter<'group'>;
  readonly cronTicksPublished: Counter<'schedule' | 'mode'>;
  readonly cronTickLateness: Histogram<'schedule' | 'mode'>;
  readonly cronSlotsSkipped: Counter<'schedule'>;
  readonly cronLeaderChanges: Counter<'schedule'>;
  readonly cronPublishFenced: Counter<'schedule'>;
  readonly cronPublishFailures: Counter<'schedule'>;
  readonly cronLeader: Gauge<'schedule' | 'instance'>;
  private readonly sources = new Set<ConsumerGaugeSource>();

  constructor(options: OrderlyMetricsOptions = {}) {
    const valid = validateOrderlyMetricsOptions(options);
    this.registry = (valid.registry as Registry | undefined) ?? new Registry();
    const registers = [this.registry];
    const counter = <L extends string>(name: MetricName, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: MetricName, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers });

    this.consumed = counter('orderly_records_consumed_total', 'Records taken from the source topic or a retry tier', recordLabels);
    this.handled = counter('orderly_records_handled_total', 'Records whose handler succeeded', recordLabels);
    this.failed = counter('orderly_records_failed_total', 'Handler attempts that failed (each attempt counts)', recordLabels);
    this.retried = counter('orderly_records_retried_total', 'Records forwarded to a retry tier; tier is the destination', recordLabels);
    this.deadLettered = counter('orderly_records_dead_lettered_total', 'Records forwarded to the dead-letter topic, by reason', ['group', 'topic', 'reason']);
    this.skippedDuplicate = counter('orderly_records_skipped_duplicate_total', 'Records skipped as already completed (idempotency)', recordLabels);
    this.fenced = counter('orderly_records_fenced_total', 'Records whose claim was lost to a newer group generation', recordLabels);
    this.claimWaits = counter('orderly_claim_waits_total', 'Records that waited for an idempotency claim another holder (a dead or revoked member) still leased', recordLabels);
    this.abandoned = counter('orderly_records_abandoned_total', 'Records given up before completion (they come again from the committed offset), by reason: rebalanced, stopping, error', [...recordLabels, 'reason']);
    this.handlerTimeouts = counter('orderly_handler_timeouts_total', 'Handler attempts cut at handlerTimeoutMs', recordLabels);
    this.forwardFailures = counter('orderly_forward_failures_total', 'Forwards to a tier or the DLT that failed and wait to be retried', recordLabels);
    this.offsetCommits = counter('orderly_offset_commits_total', 'Successful offset commits', ['group']);
    this.commitFailures = counter('orderly_commit_failures_total', 'Offset commits that failed', ['group']);
    this.rebalances = counter('orderly_rebalances_total', 'Group rebalances this member took part in', ['group']);
    this.handlerDuration = new Histogram({
      name: 'orderly_handler_duration_seconds',
      help: 'Duration of successful handler attempts, in seconds',
      labelNames: recordLabels,
      buckets: valid.handlerDurationBucketsSeconds,
      registers,
    });
    this.endToEndLatency = new Histogram({
      name: 'orderly_end_to_end_latency_seconds',
      help: 'From orderly-occurred-at to handled, in seconds',
      labelNames: ['group', 'topic'],
      buckets: valid.endToEndLatencyBucketsSeconds,
      registers,
    });

    const sources = this.sources;
    const fromSources = (name: MetricName, help: string, read: (source: ConsumerGaugeSource) => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        labelNames: ['group'],
        registers,
        async collect() {
          this.reset();
          const byGroup = new Map<string, number>();
          for (const source of sources) byGroup.set(source.groupId, (byGroup.get(source.groupId) ?? 0) + (await read(source)));
          for (const [group, value] of byGroup) this.set({ group }, value);
        },
      });
    fromSources('orderly_handlers_in_flight', 'Handler calls running now', (source) => source.stats().inFlight);
    fromSources('orderly_records_queued', 'Records fetched and waiting in key lanes', (source) => source.stats().queued);
    fromSources('orderly_partitions_paused', 'Partitions paused by backpressure', (source) => source.stats().pausedPartitions);
    fromSources('orderly_partitions_gated', 'Retry-tier partitions paused until their records are near due (then held in memory and started by timer)', (source) => source.stats().gatedPartitions);
    fromSources('orderly_parked_keys', 'Keys parked behind a record on the retry ladder', (source) => source.parkedKeys().catch(() => 0));
    fromSources('orderly_group_joined', '1 when the member has joined its group and is not stopped', (source) => (source.joined() ? 1 : 0));

    this.consumerLag = gauge('orderly_consumer_lag_records', 'Records after the committed offset, per partition (reported while paused too)', partitionLabels);
    this.committedOffset = gauge('orderly_committed_offset', "The group's committed offset, per partition", partitionLabels);
    this.logEndOffset = gauge('orderly_log_end_offset', 'The high watermark, per partition', partitionLabels);
    this.partitionStuck = gauge('orderly_partition_stuck', '1 when a partition has lag and its committed offset has not moved for stuckAfterMs', partitionLabels);
    this.partitionWatermarkStalled = gauge(
      'orderly_partition_watermark_stalled',
      "1 while a member's watermark of a partition has not moved for stuckPartitionMs with records waiting (the log line says why)",
      partitionLabels,
    );
    this.forwardStuck = gauge('orderly_forward_stuck', '1 while a partition is stopped at a record the broker rejects even as a reduced DLT stub', partitionLabels);
    this.deadLetterRecords = gauge('orderly_dead_letter_records', 'Records in the dead-letter topic, per partition', ['group', 'topic', 'partition']);
    this.deadLetterOldestAge = gauge('orderly_dead_letter_oldest_age_seconds', 'Age of the oldest record in the dead-letter topic, in seconds (0 when empty)', ['group', 'topic']);
    this.groupMembers = gauge('orderly_group_members', 'Members of the consumer group, as the broker sees them', ['group']);
    this.lagPollFailures = counter('orderly_lag_poll_failures_total', 'Lag polls that failed (the broker or the admin API was unavailable)', ['group']);

    this.undecodableBatches = counter('orderly_undecodable_batches_total', 'Record batches that could not be decoded; action: blocked (the partition stops there) or skipped (a stub went to the DLT)', ['group', 'topic', 'partition', 'action']);
    this.clientCrashes = counter('orderly_client_crashes_total', "Crashes of the Kafka client's consumer; restart: kafkajs, member (after a backoff) or none (the member stops)", ['group', 'restart']);
    this.clientStalls = counter(
      'orderly_client_stalls_total',
      "The Kafka client's consumer neither fetched nor joined for clientStallTimeoutMs, or its commits went to a coordinator that is no longer one; reason: rebalance, fetch or commit; restart: member (stopped, started again) or none (the member stops)",
      ['group', 'reason', 'restart'],
    );
    this.rejoinsAbandoned = counter('orderly_rejoins_abandoned_total', "Rebalances that ended without a join: the Kafka client's rejoin failed and it fetched again in its previous generation", ['group']);

    // Cron schedules (scheduling/): label `schedule` is the schedule's name; `mode` is live or catch-up.
    this.cronTicksPublished = counter('orderly_cron_ticks_published_total', 'Ticks committed by this instance as leader; mode: live (came due while it led) or catch-up (missed before)', ['schedule', 'mode']);
    this.cronTickLateness = new Histogram({
      name: 'orderly_cron_tick_lateness_seconds',
      help: 'Commit time of a tick minus its slot, in seconds',
      labelNames: ['schedule', 'mode'],
      buckets: valid.tickLatenessBucketsSeconds,
      registers,
    });
    this.cronSlotsSkipped = counter('orderly_cron_slots_skipped_total', 'Due slots never published: left out by the missed-slot policy (skip, or past maxCatchUp)', ['schedule']);
    this.cronLeaderChanges = counter('orderly_cron_leader_changes_total', 'Times this instance took a schedule over (fencing the previous leader)', ['schedule']);
    this.cronPublishFenced = counter('orderly_cron_publish_fenced_total', 'Publishes refused by the broker because a newer leader fenced this instance', ['schedule']);
    this.cronPublishFailures = counter('orderly_cron_publish_failures_total', 'Claims or publishes that failed for another reason (the leader re-reads the schedule topic and tries again)', ['schedule']);
    this.cronLeader = gauge('orderly_cron_leader', '1 while this instance leads the schedule', ['schedule', 'instance']);

    if (valid.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Adds a consumer whose state gauges are read at each scrape; returns the function that removes it. */
  addSource(source: ConsumerGaugeSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** The text exposition format, for `/metrics`. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

let shared: OrderlyMetrics | undefined;

/** The process-wide metrics (their own registry, process metrics included), created on first use. */
export function sharedOrderlyMetrics(): OrderlyMetrics {
  shared ??= new OrderlyMetrics();
  return shared;
}
