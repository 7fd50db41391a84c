/**
 * The outbox relay's Prometheus metrics (label `table` only: never a key, an event id or a topic). Every relay
 * of a table measures the depth and the oldest unsent row's age for itself: rules take `max by (table)`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const outboxMetricNames = [
  'orderly_outbox_depth',
  'orderly_outbox_oldest_unsent_age_seconds',
  'orderly_outbox_failed_rows',
  'orderly_outbox_published_total',
  'orderly_outbox_marked_failed_total',
  'orderly_outbox_claim_failures_total',
  'orderly_outbox_write_to_publish_seconds',
] as const;

export class OutboxMetrics {
  readonly registry: Registry;
  /** Pending rows (blocked ones included). */
  readonly depth: Gauge<'table'>;
  /** Seconds since the oldest pending row was written; 0 when none is pending. */
  readonly oldestUnsentAge: Gauge<'table'>;
  /** Rows marked failed and not yet requeued or discarded. */
  readonly failedRows: Gauge<'table'>;
  readonly published: Counter<'table'>;
  /** Rows this relay marked failed, by `reason` (`topic-missing`, `rejected`). */
  readonly markedFailed: Counter<'table' | 'reason'>;
  /** Claims that failed (broker or database outage, timeout): the rows wait and are retried. */
  readonly claimFailures: Counter<'table'>;
  /** From the row's insert to the broker's acknowledgement. */
  readonly writeToPublish: Histogram<'table'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.depth = new Gauge({ name: 'orderly_outbox_depth', help: 'Outbox rows not yet published (blocked rows included)', labelNames: ['table'], registers });
    this.oldestUnsentAge = new Gauge({ name: 'orderly_outbox_oldest_unsent_age_seconds', help: 'Age of the oldest unpublished outbox row, 0 when there is none', labelNames: ['table'], registers });
    this.failedRows = new Gauge({ name: 'orderly_outbox_failed_rows', help: 'Outbox rows marked failed (they block later rows of their key)', labelNames: ['table'], registers });
    this.published = new Counter({ name: 'orderly_outbox_published_total', help: 'Outbox rows published and marked sent', labelNames: ['table'], registers });
    this.markedFailed = new Counter({ name: 'orderly_outbox_marked_failed_total', help: 'Outbox rows marked failed, by reason', labelNames: ['table', 'reason'], registers });
    this.claimFailures = new Counter({ name: 'orderly_outbox_claim_failures_total', help: 'Relay claims that failed and were retried', labelNames: ['table'], registers });
    this.writeToPublish = new Histogram({
      name: 'orderly_outbox_write_to_publish_seconds',
      help: 'From the outbox insert to the broker acknowledgement',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
  }
}
