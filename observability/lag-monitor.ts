/**
 * Measures a consumer group's lag from the admin API, per partition of each source topic, of each retry tier
 * and of the DLT: committed offsets against high watermarks. Being outside the consumer, it reports a paused
 * partition, a stalled member or a group with no member at all just the same. Also the DLT's depth and the age
 * of its oldest record, the group's member count, and which partitions are stuck (lag, and a committed offset
 * that has not moved for `stuckAfterMs`): those make `/readyz` fail and are logged at error level once. So does
 * a lag that is not known (no poll succeeded for `staleAfterMs`); a DLT that is deleted takes its series with it.
 */
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { createKafkaClient, type Admin } from '../core/kafka-client.ts';
import { OldestRecordFinder, type PartitionBounds } from './dead-letter-age.ts';
import { validateLagMonitorOptions, type LagMonitorOptions, type ValidLagMonitorOptions } from './lag-monitor-options.ts';
import { sharedOrderlyMetrics, type OrderlyMetrics } from './metrics.ts';
import { StuckPartitionTracker } from '../consumers/offsets/stuck-partition-tracker.ts';
import { topicTierOf, type TierLabel } from './topic-tier.ts';

export interface PartitionLag {
  /** The Kafka topic: the source, a retry tier or the DLT. */
  topic: string;
  sourceTopic: string;
  tier: TierLabel;
  partition: number;
  /** The group's committed offset; null when it never committed (it then starts at the log start). */
  committedOffset: string | null;
  logStartOffset: string;
  logEndOffset: string;
  /** Records after the committed offset. For the DLT (not consumed by the group): the records it holds. */
  lag: number;
  /** How long the partition has had lag with no commit, in ms (0 when it has no lag or just moved). */
  stalledForMs: number;
  stuck: boolean;
}

export interface DeadLetterDepth {
  topic: string;
  sourceTopic: string;
  records: number;
  /** Epoch ms of the oldest record; undefined when empty. */
  oldestTimestampMs: number | undefined;
}

export interface LagReport {
  groupId: string;
  takenAtMs: number;
  /** Members of the group as the broker sees them, and its state (`Stable`, `Empty`, `Dead`, ...). */
  members: number;
  groupState: string;
  partitions: PartitionLag[];
  deadLetters: DeadLetterDepth[];
}

export class LagMonitor {
  private readonly options: ValidLagMonitorOptions;
  private admin: Admin;
  private readonly metrics: OrderlyMetrics | null;
  private readonly logger: Logger;
  private oldest: OldestRecordFinder;
  private readonly stuck = new StuckPartitionTracker();
  private readonly reportedStuck = new Set<string>();
  private readonly exported = new Set<string>();
  private connected: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<LagReport> | undefined;
  private report: LagReport | undefined;
  private failuresSinceSuccess = 0;
  private lastFailure: string | undefined;

  constructor(options: LagMonitorOptions) {
    this.options = validateLagMonitorOptions(options);
    this.logger = componentLogger(options.logger ?? createLogger(), 'lag-monitor', { groupId: this.options.groupId });
    this.admin = createKafkaClient(this.options.kafka, this.logger).admin();
    this.metrics = this.options.metrics === undefined ? sharedOrderlyMetrics() : this.options.metrics;
    this.oldest = new OldestRecordFinder(this.admin);
  }

  /**
   * A fresh admin client after a failed poll: kafkajs keeps asking for the metadata of every topic an admin has
   * looked at, so one deleted topic (a DLT, say) fails each later request of that admin; a failed connect
   * would otherwise stay failed too.
   */
  private async replaceAdmin(): Promise<void> {
    const previous = this.admin;
    const connected = this.connected;
    this.admin = createKafkaClient(this.options.kafka, this.logger).admin();
    this.oldest = new OldestRecordFinder(this.admin);
    this.connected = undefined;
    if (connected) await previous.disconnect().catch(() => undefined);
  }

  /** Polls once (failures are counted and logged, not thrown), then every `intervalMs`. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.pollQuietly(), this.options.intervalMs);
    this.timer.unref();
    await this.pollQuietly();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
    if (this.connected) await this.admin.disconnect();
    this.connected = undefined;
  }

  /** The last report, if a poll has succeeded. */
  latest(): LagReport | undefined {
    return this.report;
  }

  /**
   * Not ready while a partition is stuck, and while the lag is unknown: before a poll has succeeded, and once
   * the last success is older than `staleAfterMs` (a verdict that is not renewed is not kept).
   */
  readiness(now = Date.now()): { ready: boolean; reasons: string[] } {
    const group = this.options.groupId;
    const failed = this.lastFailure === undefined ? '' : `; ${this.failuresSinceSuccess} poll(s) failed since, the last with: ${this.lastFailure}`;
    if (!this.report) return { ready: false, reasons: [`group ${group}: lag unknown, no lag poll has succeeded yet${failed}`] };
    const ageMs = now - this.report.takenAtMs;
    if (ageMs > this.options.staleAfterMs) {
      return { ready: false, reasons: [`group ${group}: lag unknown, the last successful lag poll was ${Math.round(ageMs / 1_000)} s ago${failed}`] };
    }
    const stuck = this.report.partitions.filter((partition) => partition.stuck);
    const reasons = stuck.map((p) => `group ${group}: ${p.topic}[${p.partition}] has lag ${p.lag} and no commit for ${Math.round(p.stalledForMs / 1_000)} s`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Measures now (one poll at a time: a call during a poll gets that poll's report). */
  poll(): Promise<LagReport> {
    this.polling ??= this.measureOrReplace().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollQuietly(): Promise<void> {
    try {
      await this.poll();
    } catch (error) {
      this.metrics?.lagPollFailures.inc({ group: this.options.groupId });
      this.logger.warn({ err: { type: (error as Error).name, message: (error as Error).message }, failuresSinceSuccess: this.failuresSinceSuccess }, 'lag poll failed; the next poll tries again');
    }
  }

  private async measureOrReplace(): Promise<LagReport> {
    try {
      const report = await this.measure();
      this.failuresSinceSuccess = 0;
      this.lastFailure = undefined;
      return report;
    } catch (error) {
      this.failuresSinceSuccess++;
      this.lastFailure = `${(error as Error).name}: ${(error as Error).message}`;
      await this.replaceAdmin();
      throw error;
    }
  }

  private async measure(): Promise<LagReport> {
    this.connected ??= this.admin.connect();
    await this.connected;
    const { groupId } = this.options;
    const existing = new Set(await this.admin.listTopics());
    const topics = [...existing].filter((name) => {
      const { topic, tier } = topicTierOf(name, groupId);
      return this.options.topics.includes(topic) && (tier !== 'source' || name === topic);
    });
    const missing = this.options.topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) this.logger.warn({ topics: missing }, 'source topics missing: their lag is not measured');
    const [committed, described, ...bounds] = await Promise.all([
      this.admin.fetchOffsets({ groupId, topics }),
      this.admin.describeGroups([groupId]),
      ...topics.map(async (topic) => ({ topic, partitions: await this.admin.fetchTopicOffsets(topic) })),
    ]);
    const committedOf = new Map(committed.flatMap(({ topic, partitions }) => partitions.map(({ partition, offset }) => [`${topic}:${partition}`, offset] as const)));
    const now = Date.now();
    const partitions: PartitionLag[] = [];
    const deadLetters: DeadLetterDepth[] = [];
    for (const { topic, partitions: offsets } of bounds) {
      const { topic: sourceTopic, tier } = topicTierOf(topic, groupId);
      offsets.sort((a, b) => a.partition - b.partition);
      for (const { partition, low, high } of offsets) {
        const given = committedOf.get(`${topic}:${partition}`);
        const committedOffset = given === undefined || given === '-1' || tier === 'dlt' ? null : given;
        const from = committedOffset === null || BigInt(committedOffset) < BigInt(low) ? BigInt(low) : BigInt(committedOffset);
        const lag = Math.max(0, Number(BigInt(high) - from));
        partitions.push({ topic, sourceTopic, tier, partition, committedOffset, logStartOffset: low, logEndOffset: high, lag, stalledForMs: 0, stuck: false });
      }
      if (tier === 'dlt') {
        const records = offsets.reduce((sum, { low, high }) => sum + Number(BigInt(high) - BigInt(low)), 0);
        deadLetters.push({ topic, sourceTopic, records, oldestTimestampMs: await this.oldest.oldestTimestampMs(topic, offsets as PartitionBounds[], now) });
      }
    }
    this.judgeStuck(partitions.filter((partition) => partition.tier !== 'dlt'), now);
    const group = described.groups[0];
    const report: LagReport = { groupId, takenAtMs: now, members: group?.members.length ?? 0, groupState: group?.state ?? 'Unknown', partitions, deadLetters };
    this.report = report;
    this.export(report);
    return report;
  }

  private judgeStuck(partitions: PartitionLag[], now: number): void {
    const idOf = (p: PartitionLag) => `${p.topic}:${p.partition}`;
    const verdicts = this.stuck.observe(
      partitions.map((p) => ({ id: idOf(p), committedOffset: positionOf(p), lag: p.lag, stuckAfterMs: this.stuckAfterMs(p.tier) })),
      now,
    );
    for (const p of partitions) {
      const verdict = verdicts.get(idOf(p));
      p.stalledForMs = verdict?.stalledForMs ?? 0;
      p.stuck = verdict?.stuck ?? false;
      const fields = { topic: p.topic, partition: p.partition, tier: p.tier, offset: p.committedOffset ?? p.logStartOffset, lag: p.lag, durationMs: p.stalledForMs };
      if (p.stuck && !this.reportedStuck.has(idOf(p))) {
        this.reportedStuck.add(idOf(p));
        this.logger.error({ ...fields, status: 'stuck' }, 'partition stuck: it has lag and its committed offset has not moved');
      } else if (!p.stuck && this.reportedStuck.delete(idOf(p))) {
        this.logger.info({ ...fields, status: 'moving' }, 'partition moving again');
      }
    }
  }

  private stuckAfterMs(tier: TierLabel): number {
    if (tier === 'source' || tier === 'dlt') return this.options.stuckAfterMs;
    const delays = this.options.retryTiersMs;
    const delay = delays[Number(tier) - 1] ?? delays[delays.length - 1] ?? 0;
    return this.options.stuckAfterMs + Math.ceil(delay * 1.1);
  }

  private export(report: LagReport): void {
    const metrics = this.metrics;
    if (!metrics) return;
    const group = report.groupId;
    const exported = new Set<string>();
    for (const p of report.partitions) {
      if (p.tier === 'dlt') {
        const labels = { group, topic: p.sourceTopic, partition: `${p.partition}` };
        metrics.deadLetterRecords.set(labels, p.lag);
        exported.add(JSON.stringify(['dlt', labels]));
        continue;
      }
      const labels = { group, topic: p.sourceTopic, tier: p.tier, partition: `${p.partition}` };
      metrics.consumerLag.set(labels, p.lag);
      metrics.logEndOffset.set(labels, Number(p.logEndOffset));
      metrics.partitionStuck.set(labels, p.stuck ? 1 : 0);
      if (p.committedOffset !== null) metrics.committedOffset.set(labels, Number(p.committedOffset));
      exported.add(JSON.stringify(['partition', labels]));
    }
    for (const dead of report.deadLetters) {
      const age = dead.oldestTimestampMs === undefined ? 0 : Math.max(0, (report.takenAtMs - dead.oldestTimestampMs) / 1_000);
      const labels = { group, topic: dead.sourceTopic };
      metrics.deadLetterOldestAge.set(labels, age);
      exported.add(JSON.stringify(['dlt-age', labels]));
    }
    metrics.groupMembers.set({ group }, report.members);
    // Partitions gone since the last poll (a deleted topic): their series go too.
    for (const key of this.exported) {
      if (exported.has(key)) continue;
      const [kind, labels] = JSON.parse(key) as [string, Record<string, string>];
      if (kind === 'dlt') metrics.deadLetterRecords.remove(labels);
      else if (kind === 'dlt-age') metrics.deadLetterOldestAge.remove(labels);
      else for (const gauge of [metrics.consumerLag, metrics.logEndOffset, metrics.partitionStuck, metrics.committedOffset]) gauge.remove(labels);
    }
    this.exported.clear();
    for (const key of exported) this.exported.add(key);
  }
}

/** Where the group resumes: its committed offset, or the log start when it has none (or one below it). */
function positionOf(p: PartitionLag): string {
  if (p.committedOffset === null || BigInt(p.committedOffset) < BigInt(p.logStartOffset)) return p.logStartOffset;
  return p.committedOffset;
}
