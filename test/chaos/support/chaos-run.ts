/**
 * One scenario's run against a stack: its own topic (and DLT), group and effects table; paced production of
 * sequenced events; the commit auditor; and, at the end, the five counters that must be 0.
 */
import { randomBytes } from 'node:crypto';
import { createKafkaClient, type Admin, type Kafka, type Message } from '../../../core/kafka-client.ts';
import { deadLetterTopicOf, ensureTopicLayout, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { DltReader } from '../../../operations/dlt-reader.ts';
import type { ParkingStore } from '../../../consumers/retries/parking-store.ts';
import type { StackSettings } from '../../../infra/stack/stack-settings.ts';
import { sendBatchCompletely, trackingPartitioner } from '../../../core/complete-send.ts';
import { CommitAuditor } from './commit-auditor.ts';
import { EffectsSink, countSink, type DeadLetteredEvent } from './effects-sink.ts';
import { MemberGroup } from './member-processes.ts';

export interface ChaosCounters {
  eventsLost: number;
  duplicateEffects: number;
  orderViolations: number;
  commitsPastIncomplete: number;
  stuckPartitions: number;
}

export interface ScenarioResult {
  scenario: string;
  invariant: string;
  events: number;
  keys: number;
  partitions: number;
  faults: Record<string, number>;
  counters: ChaosCounters;
  details: Record<string, unknown>;
  durationMs: number;
  passed: boolean;
}

export interface ChaosRunOptions {
  settings: StackSettings;
  partitions: number;
  /** Environment for every member (watermarks, session timeout, ...). */
  memberEnv?: Record<string, string>;
  log?: (line: string) => void;
  /** Retry tiers to create (members with RETRY_TIERS_MS need them). @defaultValue 0 */
  tierCount?: number;
  /** The value of event `sequence` of `key`. @defaultValue JSON `{ key, sequence }` */
  encodeValue?: (key: string, sequence: number) => Buffer | string;
  /** Attempts per send before `produce` gives up (1 s apart). @defaultValue 60 */
  sendAttempts?: number;
}

export function chaosName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** The innermost Kafka error type of a failure (kafkajs wraps the broker's in retries), else its name. */
export function errorTypeOf(error: unknown): string {
  let type: string | undefined;
  let name = 'Error';
  for (let current = error as { type?: string; name?: string; originalError?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 5; depth++) {
    if (typeof current.type === 'string') type = current.type;
    name = current.name ?? name;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return type ?? name;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until no key of `topic` is parked (the retry ladder drained), or `timeoutMs` passed. */
export async function waitUntilNoKeyParked(store: ParkingStore, topic: string, timeoutMs: number): Promise<{ parked: number; afterMs: number }> {
  const startedAt = Date.now();
  for (;;) {
    const parked = (await store.list(topic).catch(() => [{}])).length;
    if (parked === 0 || Date.now() - startedAt > timeoutMs) return { parked, afterMs: Date.now() - startedAt };
    await sleep(500);
  }
}

export class ChaosRun {
  readonly topic = chaosName('chaos');
  readonly groupId = chaosName('chaos-group');
  readonly sink: EffectsSink;
  readonly members: MemberGroup;
  readonly kafka: Kafka;
  readonly expected = new Map<string, number>();
  readonly log: (line: string) => void;
  private readonly options: ChaosRunOptions;
  admin!: Admin;
  auditor!: CommitAuditor;
  private readonly startedAt = Date.now();
  published = 0;
  /** Each acknowledged send: when it started and how long until acknowledged (retries included). */
  readonly sends: { at: number; ms: number }[] = [];
  /** Failed send attempts by error type (NOT_ENOUGH_REPLICAS, a timeout, ...), each retried. */
  readonly sendErrors: Record<string, number> = {};

  constructor(options: ChaosRunOptions) {
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.kafka = createKafkaClient({ brokers: options.settings.KAFKA_BROKERS.split(','), clientId: 'chaos-harness' });
    this.sink = new EffectsSink(options.settings.DATABASE_URL);
    this.members = new MemberGroup({ settings: options.settings, topic: this.topic, groupId: this.groupId, effectsTable: this.sink.table, env: options.memberEnv });
  }

  async setUp(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await ensureTopicLayout(this.admin, { topic: this.topic, groupId: this.groupId, tierCount: this.options.tierCount ?? 0, partitions: this.options.partitions });
    await this.sink.create();
    this.auditor = new CommitAuditor(this.admin, this.groupId, this.topic);
    this.auditor.start();
  }

  /** The next `count` events over `keys` keys (round robin), each carrying its key's next sequence. */
  nextEvents(count: number, keys: number): Message[] {
    return Array.from({ length: count }, () => {
      const key = `key-${this.published % keys}`;
      const sequence = (this.expected.get(key) ?? 0) + 1;
      this.expected.set(key, sequence);
      this.published++;
      const value = this.options.encodeValue?.(key, sequence) ?? JSON.stringify({ key, sequence });
      return { key, value, headers: { 'orderly-event-id': `${key}#${sequence}` } };
    });
  }

  /** Publishes `count` events (acks=all, idempotent) spread evenly over `overMs`; retries a send that fails. */
  async produce(count: number, keys: number, overMs = 0, batchSize = 500): Promise<void> {
    const { createPartitioner, partitionOf } = trackingPartitioner();
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner });
    await producer.connect();
    const batches = Math.ceil(count / batchSize);
    const startedAt = Date.now();
    try {
      for (let batch = 0; batch < batches; batch++) {
        const messages = this.nextEvents(Math.min(batchSize, count - batch * batchSize), keys);
        const sentAt = Date.now();
        for (let attempt = 1; ; attempt++) {
          try {
            // Never counted as written when kafkajs skipped a partition across a leader change (core/complete-send.ts).
            await sendBatchCompletely(producer, { topicMessages: [{ topic: this.topic, messages }], acks: -1 }, { partitionOf });
            break;
          } catch (error) {
            // The idempotent producer keeps order and dedupes a resend; a broker restart takes a while.
            const type = errorTypeOf(error);
            this.sendErrors[type] = (this.sendErrors[type] ?? 0) + 1;
            if (attempt >= (this.options.sendAttempts ?? 60)) throw error;
            await sleep(1_000);
          }
        }
        this.sends.push({ at: sentAt, ms: Date.now() - sentAt });
        const due = startedAt + ((batch + 1) * overMs) / batches;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }

  async waitForApplied(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.sink.appliedCount().catch(() => 0)) >= count) return true;
      await sleep(500);
    }
    return false;
  }

  async deadLettered(): Promise<DeadLetteredEvent[]> {
    const events: DeadLetteredEvent[] = [];
    await new DltReader({ kafka: this.kafka, admin: this.admin }).read(deadLetterTopicOf(this.topic, this.groupId), (record) => {
      events.push({ eventId: record.eventId, reason: record.reason, partition: record.originalPartition, offset: record.originalOffset === undefined ? undefined : Number(record.originalOffset), at: record.timestamp });
    });
    return events;
  }

  /** The first forward of each source record to a retry tier (its source position and when): none without tiers. */
  async forwardedUpTheLadder(): Promise<DeadLetteredEvent[]> {
    const forwards: DeadLetteredEvent[] = [];
    for (let tier = 1; tier <= (this.options.tierCount ?? 0); tier++) {
      await new DltReader({ kafka: this.kafka, admin: this.admin }).read(retryTopicOf(this.topic, this.groupId, tier), (record) => {
        forwards.push({ eventId: record.eventId, reason: 'forwarded', partition: record.originalPartition, offset: record.originalOffset === undefined ? undefined : Number(record.originalOffset), at: record.timestamp });
      });
    }
    return forwards;
  }

  /**
   * After the last fault: waits for the lag to reach 0 (stuck partitions otherwise), stops the members, and
   * counts. `expectDeadLetters` says whether dead letters are part of the scenario (else each one is reported).
   */
  async finish(scenario: string, invariant: string, faults: Record<string, number>, details: Record<string, unknown> = {}): Promise<ScenarioResult> {
    const lastFaultAt = Date.now();
    const { stuckPartitions, drainedAfterMs } = await this.auditor.waitForLagZero(120_000);
    this.log(`lag ${stuckPartitions === 0 ? `back to 0 ${drainedAfterMs} ms after the last fault` : `not back to 0 after 120 s: ${stuckPartitions} partitions stuck`}`);
    await sleep(2_000); // a late duplicate would land now
    await this.members.stopAll();
    await this.auditor.stop();
    const [rows, deadLettered] = await Promise.all([this.sink.rows(), this.deadLettered()]);
    const sink = countSink(this.expected, rows, deadLettered);
    // A second copy of an event in the log (a producer resend the broker did not recognise) is completed when its
    // first copy is applied: the consumer skips it as a duplicate, and may commit past it.
    const copies = await this.logCopies();
    const firstApplied = new Map(rows.map((row) => [row.eventId, row]));
    const copyCompletions = copies.extraCopies.flatMap(({ eventId, partition, offset }) => {
      const original = firstApplied.get(eventId);
      return original ? [{ ...original, partition, offset }] : [];
    });
    // A source record forwarded up the retry ladder is completed (and may be committed) when forwarded.
    const audit = this.auditor.check([...rows, ...copyCompletions], [...deadLettered, ...(await this.forwardedUpTheLadder())]);
    const counters: ChaosCounters = {
      eventsLost: sink.lost,
      duplicateEffects: sink.duplicateEffects,
      orderViolations: sink.orderViolations,
      commitsPastIncomplete: audit.commitsPastIncomplete,
      stuckPartitions,
    };
    const byReason: Record<string, number> = {};
    for (const { reason } of deadLettered) byReason[reason ?? 'none'] = (byReason[reason ?? 'none'] ?? 0) + 1;
    return {
      scenario,
      invariant,
      events: this.published,
      keys: this.expected.size,
      partitions: this.options.partitions,
      faults,
      counters,
      details: {
        applied: rows.length,
        deadLettered: byReason,
        commitSamples: audit.samples,
        logCopies: copies.extraCopies.length,
        ...(copies.extraCopies.length > 0 ? { firstLogCopies: copies.extraCopies.slice(0, 5) } : {}),
        committedOffsetRegressions: audit.regressions,
        ...(audit.firstProblem ? { firstAuditProblem: audit.firstProblem } : {}),
        drainedAfterLastFaultMs: drainedAfterMs,
        sinceLastFaultMs: Date.now() - lastFaultAt,
        memberCounters: this.members.counters(),
        memberCrashes: this.members.crashes,
        memberHeapUsedMaxMb: this.members.heapUsedMaxMb,
        ...details,
      },
      durationMs: Date.now() - this.startedAt,
      passed: Object.values(counters).every((value) => value === 0) && this.members.crashes === 0 && !this.members.prototypeTouched,
    };
  }

  /**
   * Reads the whole source topic once and returns every record whose event id already appeared at an earlier
   * offset (the producer wrote it twice). Read by the harness, not by the consumer under test.
   */
  async logCopies(timeoutMs = 60_000): Promise<{ records: number; extraCopies: { eventId: string; partition: number; offset: number; firstAt: string }[] }> {
    const ends = new Map((await this.admin.fetchTopicOffsets(this.topic)).map(({ partition, high }) => [partition, Number(high)]));
    const firstSeen = new Map<string, string>();
    const extraCopies: { eventId: string; partition: number; offset: number; firstAt: string }[] = [];
    const done = new Set<number>([...ends].filter(([, high]) => high === 0).map(([partition]) => partition));
    let records = 0;
    const consumer = this.kafka.consumer({ groupId: chaosName('chaos-log-reader') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          records++;
          const eventId = message.headers?.['orderly-event-id']?.toString();
          const offset = Number(message.offset);
          if (eventId) {
            const first = firstSeen.get(eventId);
            if (first === undefined) firstSeen.set(eventId, `${partition}:${offset}`);
            else extraCopies.push({ eventId, partition, offset, firstAt: first });
          }
          if (offset + 1 >= (ends.get(partition) ?? 0)) done.add(partition);
        },
      });
      const deadline = Date.now() + timeoutMs;
      while (done.size < ends.size && Date.now() < deadline) await sleep(250);
      if (done.size < ends.size) this.log(`log scan: only ${done.size} of ${ends.size} partitions read within ${timeoutMs} ms`);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return { records, extraCopies };
  }

  async tearDown(): Promise<void> {
    this.members.killAll();
    const tiers = Array.from({ length: this.options.tierCount ?? 0 }, (_, index) => retryTopicOf(this.topic, this.groupId, index + 1));
    await this.admin?.deleteTopics({ topics: [this.topic, deadLetterTopicOf(this.topic, this.groupId), ...tiers] }).catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    await this.sink.drop();
  }
}
