/**
 * Everything the console shows, read from the same places and with the same library functions as the CLI:
 * the admin API and {@link LagMonitor} (`orderly lag`), {@link DltReader} with {@link matchesDltFilter} and
 * {@link DltPayloadDecoder} (`orderly dlt list`), {@link RedisParkingStore} (`orderly keys parked`),
 * {@link listSchedules} (`orderly cron list`) and {@link readOutboxStatus} (`orderly outbox status`), plus the
 * consumers' `/metrics` where configured. Nothing here changes anything; the changes are in console-actions.ts.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { OrderlyError } from '../core/errors.ts';
import { AssignerProtocol, createKafkaClient, type Admin, type Kafka } from '../core/kafka-client.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import type { ParkedKeyEntry } from '../consumers/retries/parking-store.ts';
import { RedisParkingStore } from '../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf } from '../consumers/retries/topic-layout.ts';
import { LagMonitor, type LagReport } from '../observability/lag-monitor.ts';
import { topicTierOf } from '../observability/topic-tier.ts';
import { matchesDltFilter, type DltFilter } from '../operations/dlt-filter.ts';
import { DltPayloadDecoder, type DecodedPayload } from '../operations/dlt-payload-decoder.ts';
import { DltReader, type PartitionWatermarks } from '../operations/dlt-reader.ts';
import type { DltRecord } from '../operations/dlt-record.ts';
import { DltReplayStore } from '../operations/dlt-replay-store.ts';
import { readOutboxStatus, type OutboxStatus } from '../outbox/outbox-status.ts';
import { listSchedules, type ScheduleSummary } from '../scheduling/schedule-status.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import type { ValidConsoleOptions } from './console-options.ts';

/** Consumer groups Orderly makes for itself: a DLT read's throwaway group, a cron schedule's leadership group. */
const internalGroup = /^(orderly-dlt-reader-|orderly-cron\.|orderly-schedule-reader-)/;

export interface GroupSummary {
  group: string;
  topics: string[];
  report: LagReport | undefined;
  /** Why the lag is not known (the poll failed). */
  lagError: string | undefined;
  parkedKeys: number | undefined;
  heldKeys: number | undefined;
  /** From the consumers' `/metrics`, when configured. */
  consumers: ConsumerGauges | undefined;
}

export interface ConsumerGauges {
  pausedPartitions: number;
  handlersInFlight: number;
  recordsQueued: number;
  joined: number;
}

export interface PartitionOwner {
  memberId: string;
  clientId: string;
  clientHost: string;
}

export interface GroupDetail extends GroupSummary {
  /** `topic:partition` -> the member it is assigned to. */
  owners: Map<string, PartitionOwner>;
  members: PartitionOwner[];
}

export interface ShownDeadLetter {
  record: DltRecord;
  /** Undefined when payloads are not shown (`--no-payloads`). */
  payload: DecodedPayload | undefined;
  /** Replays counted in Redis; undefined when Redis is not configured or did not answer. */
  replays: number | undefined;
}

export interface DeadLetterListing {
  dltTopic: string;
  /** Records in the topic read (before the filter). */
  total: number;
  records: ShownDeadLetter[];
  watermarks: PartitionWatermarks[];
}

export interface ParkedKeyView extends ParkedKeyEntry {
  /** Why the key is parked: its head's dead-letter reason and error when held, else the tier its head waits on. */
  headReason: string;
}

export class ConsoleSources {
  readonly kafka: Kafka;
  readonly options: ValidConsoleOptions;
  private readonly logger: Logger;
  private readonly decoder: DltPayloadDecoder;
  private readonly monitors = new Map<string, { topics: string; monitor: LagMonitor }>();
  private redisClient: Redis | undefined;
  private pool: pg.Pool | undefined;

  constructor(options: ValidConsoleOptions) {
    this.options = options;
    this.logger = componentLogger(options.logger ?? createLogger(), 'console');
    this.kafka = createKafkaClient({ clientId: 'orderly-console', ...options.kafka }, this.logger);
    this.decoder = new DltPayloadDecoder({ registry: options.registryUrl ? new SchemaRegistryClient({ url: options.registryUrl }) : undefined });
  }

  /**
   * A fresh admin client per request: kafkajs keeps asking for the metadata of every topic an admin looked at,
   * so one long-lived admin would fail every request after a DLT (or any topic it saw) is deleted.
   */
  async withAdmin<R>(work: (admin: Admin) => Promise<R>): Promise<R> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** The Redis client of the parking and replay stores, or an error saying how to configure it. */
  redis(): Redis {
    if (!this.options.redisUrl) throw new OrderlyError('CONFIGURATION', 'Redis is not configured: start the console with --redis (or REDIS_URL) to see parked keys and replay dead letters');
    if (!this.redisClient) {
      this.redisClient = new Redis(this.options.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 200, 2_000) });
      this.redisClient.on('error', () => undefined); // reported by the command that fails, not per reconnect
    }
    return this.redisClient;
  }

  hasRedis(): boolean {
    return this.options.redisUrl !== undefined;
  }

  /** The groups shown, each with its source topics: as configured, else as the broker lists them. */
  async groups(): Promise<{ group: string; topics: string[] }[]> {
    return this.withAdmin(async (admin) => {
      const listed = this.options.groups ?? (await admin.listGroups()).groups.filter((entry) => entry.protocolType === 'consumer' && !internalGroup.test(entry.groupId)).map((entry) => entry.groupId);
      const existing = await admin.listTopics();
      const groups: { group: string; topics: string[] }[] = [];
      for (const group of [...new Set(listed)].sort()) groups.push({ group, topics: await this.topicsOf(admin, group, existing) });
      return groups;
    });
  }

  private async topicsOf(admin: Admin, group: string, existing: readonly string[]): Promise<string[]> {
    if (this.options.topics) return this.options.topics.filter((topic) => existing.includes(topic) || existing.includes(deadLetterTopicOf(topic, group)));
    const sources = new Set<string>();
    const committed = await admin.fetchOffsets({ groupId: group }).catch(() => []);
    for (const { topic } of committed) sources.add(topicTierOf(topic, group).topic);
    // A group that never committed still owns the tiers and DLT named after it.
    for (const topic of existing) {
      const { topic: source, tier } = topicTierOf(topic, group);
      if (tier !== 'source') sources.add(source);
    }
    return [...sources].filter((topic) => existing.includes(topic) || existing.includes(deadLetterTopicOf(topic, group))).sort();
  }

  /** The lag report of a group, from a {@link LagMonitor} kept per group (its stuck-partition clock needs history). */
  private async lagOf(group: string, topics: string[]): Promise<LagReport> {
    const id = topics.join(',');
    let entry = this.monitors.get(group);
    if (entry && entry.topics !== id) {
      await entry.monitor.stop().catch(() => undefined);
      entry = undefined;
    }
    if (!entry) {
      entry = { topics: id, monitor: new LagMonitor({ kafka: { clientId: 'orderly-console-lag', ...this.options.kafka }, groupId: group, topics, metrics: null, logger: this.logger }) };
      this.monitors.set(group, entry);
    }
    // A failed poll replaces the monitor's admin client (a deleted topic poisons it): one more try.
    return entry.monitor.poll().catch(() => entry.monitor.poll());
  }

  async summary(group: string, topics: string[], gauges?: Map<string, ConsumerGauges>): Promise<GroupSummary> {
    let report: LagReport | undefined;
    let lagError: string | undefined;
    if (topics.length > 0) {
      report = await this.lagOf(group, topics).catch((error: unknown) => {
        lagError = (error as Error).message;
        return undefined;
      });
    }
    let parkedKeys: number | undefined;
    let heldKeys: number | undefined;
    if (this.hasRedis()) {
      const parked = await new RedisParkingStore({ redis: this.redis(), groupId: group }).list().catch(() => undefined);
      parkedKeys = parked?.length;
      heldKeys = parked?.filter((entry) => entry.state.held).length;
    }
    return { group, topics, report, lagError, parkedKeys, heldKeys, consumers: gauges?.get(group) };
  }

  async overview(): Promise<GroupSummary[]> {
    const [groups, gauges] = await Promise.all([this.groups(), this.consumerGauges()]);
    return Promise.all(groups.map(({ group, topics }) => this.summary(group, topics, gauges)));
  }

  async group(group: string): Promise<GroupDetail> {
    const known = (await this.groups()).find((entry) => entry.group === group);
    const topics = known?.topics ?? (await this.withAdmin(async (admin) => this.topicsOf(admin, group, await admin.listTopics())));
    const summary = await this.summary(group, topics, await this.consumerGauges());
    const owners = new Map<string, PartitionOwner>();
    const members: PartitionOwner[] = [];
    const described = await this.withAdmin((admin) => admin.describeGroups([group]));
    for (const member of described.groups[0]?.members ?? []) {
      const owner = { memberId: member.memberId, clientId: member.clientId, clientHost: member.clientHost };
      members.push(owner);
      const decoded = member.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
      for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
        for (const partition of partitions) owners.set(`${topic}:${partition}`, owner);
      }
    }
    return { ...summary, owners, members };
  }

  /** Records of `<topic>.<group>.dlt` the filter selects (the first `limit` by partition and offset), as `orderly dlt list` shows them. */
  async deadLetters(group: string, topic: string, filter: DltFilter, limit: number, keep: (record: DltRecord) => boolean = () => true): Promise<DeadLetterListing> {
    const dltTopic = deadLetterTopicOf(topic, group);
    let total = 0;
    const { records, watermarks } = await this.withAdmin((admin) => new DltReader({ kafka: this.kafka, admin, readTimeoutMs: 60_000 }).readAll(dltTopic, (record) => (total++, matchesDltFilter(record, filter) && keep(record)), limit));
    let counts: Map<DltRecord, number> | undefined;
    if (this.hasRedis()) counts = await new DltReplayStore({ redis: this.redis(), groupId: group }).replaysOf(records).catch(() => undefined);
    const shown: ShownDeadLetter[] = [];
    for (const record of records) {
      shown.push({ record, payload: this.options.showPayloads ? await this.decoder.decode(record.value) : undefined, replays: counts ? (counts.get(record) ?? 0) : undefined });
    }
    return { dltTopic, total, records: shown, watermarks };
  }

  async deadLetter(group: string, topic: string, partition: number, offset: string): Promise<ShownDeadLetter | undefined> {
    const listing = await this.deadLetters(group, topic, {}, 1, (record) => record.partition === partition && record.offset === offset);
    return listing.records[0];
  }

  /** Parked keys of a group (one source topic, or all), each with why it is parked. */
  async parkedKeys(group: string, topic?: string): Promise<ParkedKeyView[]> {
    const entries = await new RedisParkingStore({ redis: this.redis(), groupId: group }).list(topic);
    const heads = new Map<string, DltRecord>();
    // The head of a held key was dead-lettered: its DLT record says why (one read per source topic with held keys).
    for (const source of new Set(entries.filter((entry) => entry.state.held).map((entry) => entry.topic))) {
      const wanted = new Set(entries.filter((entry) => entry.topic === source && entry.state.held).map((entry) => entry.state.queue[0]));
      const listing = await this.deadLetters(group, source, {}, Infinity, (record) => record.eventId !== undefined && wanted.has(record.eventId)).catch(() => undefined);
      for (const { record } of listing?.records ?? []) heads.set(`${source}\u0000${record.eventId}`, record);
    }
    return entries.map((entry) => {
      const head = entry.state.queue[0];
      const record = head === undefined ? undefined : heads.get(`${entry.topic}\u0000${head}`);
      let headReason: string;
      if (entry.state.held) {
        headReason = record ? `held: ${record.reason ?? 'dead-lettered'}, ${record.errorType ?? '?'}: ${record.errorMessage ?? ''}` : 'held: its head was dead-lettered';
      } else {
        headReason = `retrying on tier ${entry.state.headTier}`;
      }
      return { ...entry, headReason };
    });
  }

  /** The schedules of the schedule topic, or undefined when there is no schedule topic. */
  async schedules(): Promise<ScheduleSummary[] | undefined> {
    return this.withAdmin(async (admin) => {
      if (!(await admin.listTopics()).includes(this.options.scheduleTopic)) return undefined;
      return listSchedules(this.kafka, admin, this.options.scheduleTopic);
    });
  }

  /** The outbox status, or undefined when no database is configured or it holds no outbox table. */
  async outbox(): Promise<OutboxStatus | undefined> {
    if (!this.options.databaseUrl) return undefined;
    if (!this.pool) {
      this.pool = new pg.Pool({ connectionString: this.options.databaseUrl, max: 2, connectionTimeoutMillis: 10_000 });
      this.pool.on('error', () => undefined); // an idle connection lost: the pool replaces it
    }
    const exists = await this.pool.query<{ found: string | null }>('select to_regclass($1) as found', [this.options.outboxTable]);
    if (!exists.rows[0]?.found) return undefined;
    return readOutboxStatus(this.pool, this.options.outboxTable);
  }

  /** Gauges per group from the consumers' `/metrics` (summed over the endpoints); empty when none is configured or answers. */
  async consumerGauges(): Promise<Map<string, ConsumerGauges>> {
    const byGroup = new Map<string, ConsumerGauges>();
    const fields: Record<string, keyof ConsumerGauges> = {
      orderly_partitions_paused: 'pausedPartitions',
      orderly_handlers_in_flight: 'handlersInFlight',
      orderly_records_queued: 'recordsQueued',
      orderly_group_joined: 'joined',
    };
    await Promise.all(
      this.options.metricsUrls.map(async (url) => {
        const response = await fetch(url, { headers: this.options.metricsToken ? { authorization: `Bearer ${this.options.metricsToken}` } : {}, signal: AbortSignal.timeout(3_000) }).catch(() => undefined);
        if (!response?.ok) return;
        for (const line of (await response.text()).split('\n')) {
          const match = /^(orderly_[a-z_]+)\{([^}]*)\}\s+(\S+)$/.exec(line);
          const field = match ? fields[match[1]!] : undefined;
          const group = match ? /(?:^|,)group="([^"]*)"/.exec(match[2]!)?.[1] : undefined;
          if (!field || group === undefined) continue;
          const gauges = byGroup.get(group) ?? { pausedPartitions: 0, handlersInFlight: 0, recordsQueued: 0, joined: 0 };
          gauges[field] += Number(match![3]) || 0;
          byGroup.set(group, gauges);
        }
      }),
    );
    return byGroup;
  }

  async close(): Promise<void> {
    await Promise.all([...this.monitors.values()].map(({ monitor }) => monitor.stop().catch(() => undefined)));
    this.monitors.clear();
    this.redisClient?.disconnect();
    await this.pool?.end().catch(() => undefined);
  }
}
