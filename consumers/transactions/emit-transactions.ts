/**
 * `transactional: true`: a handler's emits and its source's offset are written in one Kafka transaction, so a
 * consumer downstream that reads `read_committed` sees each emitted event once, and never the emits of an
 * attempt or a member whose work was not committed (docs/handlers.md, "Kafka transactions").
 *
 * One transactional producer per shard: a source partition p with its retry tiers and delay levels p (one member
 * holds them all, the co-partitioned assigner), under the transactional id `<group>.<source topic>.<p>`. A new
 * owner of the shard initialises that id before it handles anything: the broker fences the producer of every
 * older owner (its next send or commit fails) and ends the transaction it left open. kafkajs has no KIP-447
 * (consumer group metadata in the offset commit), so the fencing is by the id alone.
 *
 * The emits of the attempt that succeeded are kept with their record (consumers/emit/attempt-emits.ts); every
 * `commitIntervalMs` each shard opens one transaction, writes the kept emits that {@link planTransaction}
 * allows (records below their partition's watermark, each key in completion order), sends the offsets of its
 * partitions to the group in it and commits. Nothing else commits offsets in this mode.
 *
 * Start of a shard: the producer is initialised (fencing), then the group's offsets for the shard are read
 * (stable now: a transaction left by the old owner has been completed or aborted). The Kafka client read them
 * at the join, possibly before the old owner's last commit was complete; records below the stable offset are
 * done, and skipped ({@link floorOf}). The shard's partitions stay paused until then ({@link isReady}).
 *
 * A transaction that fails (fenced, a broker error) is aborted, and the member starts again from the committed
 * offsets ({@link EmitTransactionsDeps.onFailure}): what it wrote is either committed with its offsets or not at
 * all, so the records after the committed offsets are handled again, and their emits written again, once.
 *
 * The idempotency store's done marker of a record that emitted is written only after its transaction
 * committed (`RecordEmits.committed`), and its claim given back when its emits are dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sendBatchCompletely, trackingPartitioner } from '../../core/complete-send.ts';
import { OrderlyError } from '../../core/errors.ts';
import { isProducerFencedError, transactionalProducerConfig, type Admin, type Kafka, type Message, type Producer } from '../../core/kafka-client.ts';
import type { Logger } from '../../core/logger.ts';
import type { EncodedRecord, OutgoingEvent } from '../../producers/outgoing-event.ts';
import type { AssignedPartition } from '../backpressure/pause-controller.ts';
import { partitionIdOf } from '../consumed-record.ts';
import { errorSummary } from '../handler-attempts.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import type { EmitEncoder } from '../emit/attempt-emits.ts';
import { within } from '../lifecycle/within.ts';
import type { Committer } from '../offsets/committer.ts';
import type { OffsetTracker } from '../offsets/offset-tracker.ts';
import { backoffDelayMs } from '../retries/backoff.ts';
import type { RecordEmits } from './record-emits.ts';
import { planTransaction } from './transaction-plan.ts';

/** What the shards need of the consumer's producer: it encodes, the shards write. `EventProducer` is one. */
export interface RecordEncoder {
  encodeBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<EncodedRecord[]>;
}

export interface EmitTransactionsDeps {
  groupId: string;
  kafka: Kafka;
  encoder: RecordEncoder;
  tracker: OffsetTracker;
  events: ConsumerEventEmitter;
  logger: Logger;
  transactionTimeoutMs: number;
  /** Kept emits count against their partition's and the member's byte marks until written or dropped. */
  holdBytes(partitionId: string, topic: string, bytes: number): void;
  /** A shard became ready: its partitions may resume. */
  onReady(): void;
  /** A transaction failed and was aborted: the member starts again from the committed offsets. */
  onFailure(error: unknown, fenced: boolean): void;
  /** Whether the member rebalances now: the periodic commit waits for the join. */
  rebalancing(): boolean;
}

interface Entry {
  partitionId: string;
  offset: bigint;
  lane: string;
  topic: string;
  bytes: number;
  emits: RecordEmits;
}

/** A shard still starting after this long makes the member not ready (`health`). */
const startingTooLongMs = 10_000;

/** How often the emitted topics are listed again when an emit names one not seen yet, at most. */
const topicRefreshMs = 1_000;

/** The transactional id of a shard: the group, the source topic and the partition number. */
export function transactionalIdOf(groupId: string, sourceTopic: string, partition: number): string {
  return `${groupId}.${sourceTopic}.${partition}`;
}

class Shard {
  readonly id: string;
  readonly transactionalId: string;
  readonly epoch: number;
  /** The consumed partitions of the shard: the source partition, its retry tiers and delay levels. */
  readonly partitions = new Map<string, AssignedPartition>();
  ready = false;
  closed = false;
  readonly startedAt = Date.now();
  /** Why the last start failed, while it has not succeeded. */
  startError: string | undefined;
  producer: Producer | undefined;
  readonly partitioner = trackingPartitioner();
  /** The stable committed offset per partition, read at the start: records below it are done. */
  readonly floors = new Map<string, bigint>();
  readonly committed = new Map<string, bigint>();
  entries: Entry[] = [];
  committing: Promise<void> | undefined;

  constructor(id: string, transactionalId: string, epoch: number) {
    this.id = id;
    this.transactionalId = transactionalId;
    this.epoch = epoch;
  }
}

export class EmitTransactions implements Committer, EmitEncoder {
  private readonly deps: EmitTransactionsDeps;
  private readonly admin: Admin;
  private adminConnected: Promise<void> | undefined;
  private shards = new Map<string, Shard>();
  private shardOfPartition = new Map<string, Shard>();
  /** Shards being closed, by transactional id: a new producer of the id starts after the old one is done. */
  private readonly closing = new Map<string, Promise<void>>();
  /** Done markers being written after a commit. */
  private readonly markers = new Set<Promise<void>>();
  private readonly knownTopics = new Set<string>();
  private topicsListedAt = 0;
  private listing: Promise<void> | undefined;
  private failed = false;

  constructor(deps: EmitTransactionsDeps) {
    this.deps = deps;
    this.admin = deps.kafka.admin();
  }

  /**
   * A new assignment (a join, or none after the client was lost): every kept emit of the last one is dropped
   * (its records come again from the committed offsets), its producers are closed after their commit in flight,
   * and each shard of `partitions` starts: producer initialised (fencing the old owner), stable offsets read.
   */
  assign(epoch: number, partitions: readonly AssignedPartition[]): void {
    for (const shard of this.shards.values()) this.close(shard);
    this.shards = new Map();
    this.shardOfPartition = new Map();
    this.failed = false;
    for (const partition of partitions) {
      const id = `${partition.sourceTopic}\u0000${partition.partition}`;
      let shard = this.shards.get(id);
      if (!shard) {
        shard = new Shard(id, transactionalIdOf(this.deps.groupId, partition.sourceTopic, partition.partition), epoch);
        this.shards.set(id, shard);
      }
      shard.partitions.set(partition.id, partition);
      this.shardOfPartition.set(partition.id, shard);
    }
    for (const shard of this.shards.values()) void this.start(shard);
  }

  /** False while the shard of an assigned partition starts: the partition stays paused. */
  isReady(partitionId: string): boolean {
    return this.shardOfPartition.get(partitionId)?.ready ?? true;
  }

  /** Records of the partition below this offset were committed by an earlier owner: skip them. */
  floorOf(partitionId: string): bigint | undefined {
    return this.shardOfPartition.get(partitionId)?.floors.get(partitionId);
  }

  /** A record at or past the floor was taken: the floor is no longer needed. */
  passedFloor(partitionId: string): void {
    this.shardOfPartition.get(partitionId)?.floors.delete(partitionId);
  }

  /** A record of `epoch` completed with emits: kept for its shard's transaction (dropped when the epoch is over). */
  add(record: { partitionId: string; offset: string; sourceTopic: string }, lane: string, emits: RecordEmits, epoch: number): void {
    const shard = this.shardOfPartition.get(record.partitionId);
    if (!shard || shard.epoch !== epoch || shard.closed) {
      emits.dropped?.();
      return;
    }
    let bytes = 0;
    for (const emitted of emits.records) bytes += emitted.value.length + (typeof emitted.key === 'string' ? emitted.key.length : emitted.key.length) + 64;
    shard.entries.push({ partitionId: record.partitionId, offset: BigInt(record.offset), lane, topic: record.sourceTopic, bytes, emits });
    this.deps.holdBytes(record.partitionId, record.sourceTopic, bytes);
  }

  /** Emits kept and not committed yet, over every shard. */
  get pendingEmits(): number {
    let count = 0;
    for (const shard of this.shards.values()) for (const entry of shard.entries) count += entry.emits.records.length;
    return count;
  }

  /** Shards held, and how many are ready. */
  shardStats(): { shards: number; ready: number } {
    let ready = 0;
    for (const shard of this.shards.values()) if (shard.ready) ready++;
    return { shards: this.shards.size, ready };
  }

  /** Not ready while a shard has not started for {@link startingTooLongMs}: its partitions are not handled. */
  health(): { ready: boolean; reasons: string[] } {
    const late = [...this.shards.values()].filter((shard) => !shard.ready && !shard.closed && Date.now() - shard.startedAt > startingTooLongMs);
    if (late.length === 0) return { ready: true, reasons: [] };
    const [first] = late;
    return { ready: false, reasons: [`${late.length} transactional shard(s) not started for ${startingTooLongMs} ms (their partitions are paused), e.g. ${first!.transactionalId}: ${first!.startError ?? 'no answer yet'}`] };
  }

  /** {@link EmitEncoder}: an emit encoded by the consumer's producer, once its topic is known to exist. */
  async encode<V>(event: OutgoingEvent<V> & { topic: string; eventId: string }): Promise<EncodedRecord> {
    if (!this.knownTopics.has(event.topic)) await this.checkTopic(event.topic);
    const [record] = await this.deps.encoder.encodeBatch([event]);
    return record!;
  }

  /** The periodic commit (and the one at a rebalance): one transaction per ready shard, none while one is in flight. */
  commit({ duringRebalance = false } = {}): Promise<unknown> {
    if (this.deps.rebalancing() && !duringRebalance) return Promise.resolve();
    return Promise.all([...this.shards.values()].map((shard) => this.commitShard(shard)));
  }

  /** The last commit when the member stops: waits out a commit in flight, commits, waits for the done markers. */
  async commitFinal(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    const final = Promise.all(
      [...this.shards.values()].map(async (shard) => {
        await shard.committing;
        await this.commitShard(shard);
      }),
    ).then(() => Promise.all([...this.markers]));
    const { settled } = await within(final, budgetMs);
    const left = [...this.shards.values()].reduce((sum, shard) => sum + shard.entries.length, 0);
    if (!settled || left > 0) {
      this.deps.logger.warn({ records: left, durationMs: Math.max(0, budgetMs - (deadline - Date.now())) }, 'final transaction not done before the shutdown deadline: the next owner handles these records again');
    }
  }

  joined(): void {}

  carryOver(): void {}

  /** Closes every producer (after its commit in flight) and the admin client. */
  async close(shard?: Shard): Promise<void> {
    if (shard) {
      shard.closed = true;
      for (const entry of shard.entries.splice(0)) this.drop(entry);
      const done = (async () => {
        await shard.committing?.catch(() => undefined);
        await shard.producer?.disconnect().catch(() => undefined);
      })();
      this.closing.set(shard.transactionalId, done);
      void done.finally(() => {
        if (this.closing.get(shard.transactionalId) === done) this.closing.delete(shard.transactionalId);
      });
      return done;
    }
    this.assign(0, []);
    await Promise.all([...this.closing.values()]);
    if (this.adminConnected) await this.admin.disconnect().catch(() => undefined);
  }

  private drop(entry: Entry): void {
    this.deps.holdBytes(entry.partitionId, entry.topic, -entry.bytes);
    try {
      entry.emits.dropped?.();
    } catch (error) {
      this.deps.logger.warn({ err: errorSummary(error) }, 'giving an idempotency claim back failed');
    }
  }

  /** Initialises the shard's producer (fencing older owners) and reads its stable offsets; retried until it is closed. */
  private async start(shard: Shard): Promise<void> {
    for (let attempt = 1; !shard.closed; attempt++) {
      try {
        await this.closing.get(shard.transactionalId);
        if (shard.closed) return;
        const producer = this.deps.kafka.producer({
          ...transactionalProducerConfig(shard.transactionalId, this.deps.transactionTimeoutMs),
          createPartitioner: shard.partitioner.createPartitioner,
        });
        shard.producer = producer;
        await producer.connect();
        // The first transaction initialises the id: InitProducerId fences older producers and ends their open transaction.
        const first = await producer.transaction();
        await first.abort();
        await this.connectAdmin();
        const topics = [...new Set([...shard.partitions.values()].map((partition) => partition.topic))];
        const fetched = await this.admin.fetchOffsets({ groupId: this.deps.groupId, topics });
        if (shard.closed) return;
        for (const { topic, partitions } of fetched) {
          for (const { partition, offset } of partitions) {
            const id = [...shard.partitions.values()].find((candidate) => candidate.topic === topic && candidate.partition === partition)?.id;
            if (id === undefined || Number(offset) < 0) continue;
            shard.floors.set(id, BigInt(offset));
            shard.committed.set(id, BigInt(offset));
          }
        }
        shard.ready = true;
        this.deps.logger.debug({ transactionalId: shard.transactionalId, attempt }, 'transactional producer initialised');
        this.deps.onReady();
        return;
      } catch (error) {
        if (shard.closed) return;
        shard.startError = errorSummary(error)?.message;
        this.deps.logger.warn({ transactionalId: shard.transactionalId, attempt, err: errorSummary(error) }, 'initialising the transactional producer failed; retrying');
        await shard.producer?.disconnect().catch(() => undefined);
        shard.producer = undefined;
        await sleep(backoffDelayMs(attempt, { baseMs: 200, maxMs: 5_000 }));
      }
    }
  }

  private connectAdmin(): Promise<void> {
    this.adminConnected ??= this.admin.connect().catch((error: unknown) => {
      this.adminConnected = undefined;
      throw error;
    });
    return this.adminConnected;
  }

  /** Throws a retriable error when the topic does not exist (a transaction writing to it would fail whole). */
  private async checkTopic(topic: string): Promise<void> {
    if (Date.now() - this.topicsListedAt >= topicRefreshMs || this.listing) {
      this.listing ??= (async () => {
        await this.connectAdmin();
        for (const name of await this.admin.listTopics()) this.knownTopics.add(name);
        this.topicsListedAt = Date.now();
      })().finally(() => (this.listing = undefined));
      await this.listing;
    }
    if (!this.knownTopics.has(topic)) {
      throw new OrderlyError('KAFKA', `emit to ${topic.slice(0, 100)}: the topic does not exist. Orderly never auto-creates topics: create it with \`orderly topics create\``, { retriable: true, context: { topic } });
    }
  }

  private commitShard(shard: Shard): Promise<void> {
    if (!shard.ready || shard.closed || this.failed) return Promise.resolve();
    if (shard.committing) return shard.committing;
    const committing = this.transact(shard).finally(() => {
      if (shard.committing === committing) shard.committing = undefined;
    });
    shard.committing = committing;
    return committing;
  }

  /** One transaction of the shard: the emits the plan allows, the offsets, commit. A failure aborts it and restarts the member. */
  private async transact(shard: Shard): Promise<void> {
    const { tracker, groupId, events, logger } = this.deps;
    const watermarks = new Map<string, bigint | undefined>();
    for (const { id, topic, partition } of shard.partitions.values()) {
      const watermark = tracker.watermark(topic, partition);
      watermarks.set(id, watermark === undefined ? undefined : BigInt(watermark));
    }
    const plan = planTransaction(shard.entries, watermarks, shard.committed);
    if (plan.send.length === 0 && plan.offsets.size === 0) return;
    const startedAt = performance.now();
    // Taken out of the shard while the transaction runs: a close meanwhile (a rebalance) drops only the others,
    // and these are settled by the transaction's outcome.
    const written = new Set(plan.send);
    const sent = plan.send.map((index) => shard.entries[index]!);
    shard.entries = shard.entries.filter((_, index) => !written.has(index));
    const byTopic = new Map<string, Message[]>();
    for (const entry of sent) {
      for (const { topic, key, value, headers } of entry.emits.records) {
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push({ key, value, headers });
      }
    }
    const offsets = [...plan.offsets].map(([id, offset]) => {
      const { topic, partition } = shard.partitions.get(id)!;
      return { topic, partition, offset: offset.toString() };
    });
    const producer = shard.producer!;
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      transaction = await producer.transaction();
      if (byTopic.size > 0) {
        // Never a success for a partition that got no acknowledgement (core/complete-send.ts).
        await sendBatchCompletely(transaction, { topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), acks: -1 }, { partitionOf: shard.partitioner.partitionOf });
      }
      if (offsets.length > 0) {
        const topics = new Map<string, { partition: number; offset: string }[]>();
        for (const { topic, partition, offset } of offsets) topics.set(topic, [...(topics.get(topic) ?? []), { partition, offset }]);
        await transaction.sendOffsets({ consumerGroupId: groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) });
      }
      await transaction.commit();
    } catch (error) {
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      for (const entry of sent) this.drop(entry);
      const fenced = isProducerFencedError(error);
      const errorType = (error as { type?: string }).type ?? (error as { cause?: { type?: string } }).cause?.type ?? (error as Error).name;
      events.emit('consumer.transaction.failed', { transactionalId: shard.transactionalId, errorType, fenced });
      logger.error(
        { transactionalId: shard.transactionalId, fenced, emits: sent.length, err: errorSummary(error) },
        fenced
          ? 'transaction fenced: another member owns this shard now (this one was a zombie); nothing of it is committed, and the member starts again'
          : 'transaction failed and was aborted: nothing of it is committed; the member starts again from the committed offsets',
      );
      if (!shard.closed && !this.failed) {
        this.failed = true;
        this.deps.onFailure(error, fenced);
      }
      return;
    }
    for (const { topic, partition, offset } of offsets) {
      shard.committed.set(partitionIdOf(topic, partition), BigInt(offset));
      tracker.markCommitted({ topic, partition, offset });
    }
    let emitted = 0;
    for (const entry of sent) {
      emitted += entry.emits.records.length;
      this.deps.holdBytes(entry.partitionId, entry.topic, -entry.bytes);
      const marker = entry.emits.committed?.();
      if (marker) {
        const tracked: Promise<void> = marker
          .catch((error: unknown) => logger.warn({ err: errorSummary(error) }, 'writing a done marker after its transaction failed'))
          .finally(() => this.markers.delete(tracked));
        this.markers.add(tracked);
      }
    }
    if (offsets.length > 0) events.emit('consumer.offsets.committed', { offsets });
    events.emit('consumer.transaction.committed', { transactionalId: shard.transactionalId, emits: emitted, offsets, durationMs: performance.now() - startedAt });
  }
}
