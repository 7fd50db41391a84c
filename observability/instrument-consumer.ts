/**
 * Turns the events of an {@link OrderedConsumer} into metrics, and tells whether it has joined its group (for
 * `/readyz`). Subscribes to `consumer.events` only; the consumer knows nothing of Prometheus.
 */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { ConsumerEventEmitter, ConsumerEvents } from '../consumers/events.ts';
import { sharedOrderlyMetrics, OrderlyMetrics } from './metrics.ts';
import { topicTierOf } from './topic-tier.ts';

/** The part of an `OrderedConsumer` the metrics read. */
export interface InstrumentedConsumer {
  readonly events: ConsumerEventEmitter;
  stats(): { inFlight: number; queued: number; pausedPartitions: number; gatedPartitions: number };
  parkedKeys(): Promise<number>;
  /** Not ready while its Kafka client is down after a crash or a partition is stopped at an undecodable batch. */
  health?(): { ready: boolean; reasons: string[] };
}

export interface InstrumentConsumerOptions {
  /** The consumer's group id (the `group` label; also how retry-tier topic names are read). */
  groupId: string;
  /** Where to count. @defaultValue {@link sharedOrderlyMetrics} */
  metrics?: OrderlyMetrics;
}

const optionsSchema = z.object({
  groupId: z.string().min(1, 'must name the consumer group the consumer was built with'),
  metrics: z.instanceof(OrderlyMetrics, { message: 'must be an OrderlyMetrics (new OrderlyMetrics())' }).optional(),
});

export function validateInstrumentConsumerOptions(options: InstrumentConsumerOptions): InstrumentConsumerOptions {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `instrumentConsumer.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

export type MembershipState = 'starting' | 'joined' | 'rebalancing' | 'detached';

/** What {@link instrumentConsumer} returns: the member's group state and the way to stop counting. */
export interface ConsumerInstrumentation {
  readonly groupId: string;
  /** `starting` until the first join; `rebalancing` between a rebalance and the next join. */
  state(): MembershipState;
  /** Joined at least once, and not detached: the consumer part of `/readyz`. */
  readiness(): { ready: boolean; reasons: string[] };
  /** Unsubscribes and removes the consumer's gauges; call it when the consumer stops. */
  detach(): void;
}

export function instrumentConsumer(consumer: InstrumentedConsumer, options: InstrumentConsumerOptions): ConsumerInstrumentation {
  const { groupId, metrics = sharedOrderlyMetrics() } = validateInstrumentConsumerOptions(options);
  const group = groupId;
  let state: MembershipState = 'starting';
  let joinedOnce = false;

  // One label object per topic, made once: the handled counter is updated per event.
  const labelsByTopic = new Map<string, { group: string; topic: string; tier: string }>();
  const labels = (topic: string) => {
    let found = labelsByTopic.get(topic);
    if (!found) {
      found = Object.freeze({ group, ...topicTierOf(topic, groupId) });
      if (labelsByTopic.size < 10_000) labelsByTopic.set(topic, found);
    }
    return found;
  };
  const stalled = new Map<string, Record<'group' | 'topic' | 'tier' | 'partition', string>>();
  const stuckForwards = new Set<string>();
  const listeners: { [E in keyof ConsumerEvents]?: (...payload: ConsumerEvents[E]) => void } = {
    'consumer.record.handled': ({ topic, durationMs, ...rest }) => {
      metrics.handled.inc(labels(topic));
      metrics.handlerDuration.observe(labels(topic), durationMs / 1_000);
      const occurredAt = occurredAtOf(rest);
      if (occurredAt !== undefined) metrics.endToEndLatency.observe({ group, topic: labels(topic).topic }, Math.max(0, Date.now() - occurredAt) / 1_000);
    },
    'consumer.record.received': ({ topic }) => metrics.consumed.inc(labels(topic)),
    'consumer.record.retried': ({ topic, tier }) => metrics.retried.inc({ group, topic: labels(topic).topic, tier: `${tier}` }),
    'consumer.record.skipped-duplicate': ({ topic }) => metrics.skippedDuplicate.inc(labels(topic)),
    'consumer.record.failed': ({ topic }) => metrics.failed.inc(labels(topic)),
    'consumer.record.dead-lettered': ({ topic, reason }) => metrics.deadLettered.inc({ group, topic: labels(topic).topic, reason }),
    'consumer.record.fenced': ({ topic }) => metrics.fenced.inc(labels(topic)),
    'consumer.claim.waiting': ({ topic }) => metrics.claimWaits.inc(labels(topic)),
    'consumer.record.abandoned': ({ topic, reason }) => metrics.abandoned.inc({ ...labels(topic), reason }),
    'consumer.handler.timed-out': ({ topic }) => metrics.handlerTimeouts.inc(labels(topic)),
    'consumer.forward.failed': ({ topic }) => metrics.forwardFailures.inc(labels(topic)),
    'consumer.partition.stalled': ({ topic, partition }) => {
      const series = { ...labels(topic), partition: `${partition}` };
      stalled.set(JSON.stringify(series), series);
      metrics.partitionWatermarkStalled.set(series, 1);
    },
    'consumer.partition.recovered': ({ topic, partition }) => {
      const series = { ...labels(topic), partition: `${partition}` };
      stalled.delete(JSON.stringify(series));
      metrics.partitionWatermarkStalled.remove(series);
    },
    // A partition stopped at a record no forward can take (not even its DLT stub): not ready until it moves.
    'consumer.forward.stuck': ({ topic, partition }) => {
      stuckForwards.add(`${topic}[${partition}]`);
      metrics.forwardStuck.set({ ...labels(topic), partition: `${partition}` }, 1);
    },
    'consumer.forward.recovered': ({ topic, partition }) => {
      stuckForwards.delete(`${topic}[${partition}]`);
      metrics.forwardStuck.remove({ ...labels(topic), partition: `${partition}` });
    },
    'consumer.offsets.committed': () => metrics.offsetCommits.inc({ group }),
    'consumer.commit.failed': () => metrics.commitFailures.inc({ group }),
    // `transactional`: a shard's transaction commits the offsets; one that failed is a failed commit.
    'consumer.transaction.failed': () => metrics.commitFailures.inc({ group }),
    'consumer.group.rebalancing': () => {
      metrics.rebalances.inc({ group });
      if (state !== 'detached') state = 'rebalancing';
    },
    'consumer.batch.undecodable': ({ topic, partition, action }) => metrics.undecodableBatches.inc({ group, topic: labels(topic).topic, partition: `${partition}`, action }),
    'consumer.client.crashed': ({ restart }) => metrics.clientCrashes.inc({ group, restart }),
    'consumer.client.stalled': ({ reason, restart }) => metrics.clientStalls.inc({ group, reason, restart }),
    // The rebalance ended without a join: the member goes on in the generation it had joined.
    'consumer.group.resumed': () => {
      metrics.rejoinsAbandoned.inc({ group });
      if (state === 'rebalancing') state = 'joined';
    },
    'consumer.group.joined': () => {
      joinedOnce = true;
      stuckForwards.clear(); // a partition still stuck reports again when its record is processed again
      metrics.forwardStuck.reset();
      if (state !== 'detached') state = 'joined';
    },
  };

  const emitter = consumer.events as unknown as NodeJS.EventEmitter;
  const subscriptions = Object.entries(listeners) as [string, (...args: unknown[]) => void][];
  for (const [name, listener] of subscriptions) emitter.on(name, listener);
  const removeSource = metrics.addSource({
    groupId,
    stats: () => consumer.stats(),
    parkedKeys: () => consumer.parkedKeys(),
    joined: () => state === 'joined',
  });

  return {
    groupId,
    state: () => state,
    readiness: () => {
      if (state === 'detached') return { ready: false, reasons: [`group ${groupId}: the consumer is stopped`] };
      const health = consumer.health?.() ?? { ready: true, reasons: [] };
      const reasons = [
        ...(joinedOnce ? [] : [`group ${groupId}: not joined yet`]),
        ...(stuckForwards.size > 0 ? [`group ${groupId}: stopped at a record the broker rejects even as a DLT stub: ${[...stuckForwards].join(', ')}`] : []),
        ...health.reasons,
      ];
      return { ready: reasons.length === 0 && health.ready, reasons };
    },
    detach: () => {
      state = 'detached';
      for (const [name, listener] of subscriptions) emitter.off(name, listener);
      for (const series of stalled.values()) metrics.partitionWatermarkStalled.remove(series);
      metrics.forwardStuck.reset();
      removeSource();
    },
  };
}

/** `occurredAt` on a handled event (epoch ms, or ISO-8601 from `orderly-occurred-at`), once the consumer adds it. */
function occurredAtOf(fields: object): number | undefined {
  const value = (fields as { occurredAt?: unknown }).occurredAt;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}
