/**
 * One consumer-group member that handles keys concurrently and each key in order, and commits only what is
 * completed. kafkajs is run pipelined: a fetched record is resolved at once (so the next fetch goes on) and
 * queued in its key's lane; the offset committed per partition is this member's own contiguous watermark of
 * completed records, with autoCommit off.
 *
 * Retries: the member also consumes its retry tiers (`<topic>.<group>.retry.<n>`). A tier record due within
 * `tierPrefetchMs` is fetched and held in memory until its due time ({@link HeldTierRecords}); a tier partition
 * whose next record is due later is paused until then ({@link DueTimeGate}). Partition p of the source and of
 * every tier go to one member (the co-partitioned assigner), so a key's lane and parking state live in one process.
 *
 * Backpressure: records held (fetched, not completed) are counted per partition and per member, in records and
 * bytes; a {@link PauseController} pauses fetching above the high-water marks, while the event loop lags, and
 * for lower-priority lanes while a higher lane has a backlog.
 *
 * Rebalances: on REBALANCING the member stops starting new records and commits what it has; on GROUP_JOIN it
 * forgets every queued record and every watermark (kafkajs fetches each assigned partition again from its
 * committed offset), while records in flight keep their key lanes busy until they finish, so a redelivered
 * successor never overtakes them, and the idempotency store turns the redelivered copy into a skip. A rebalance
 * the Kafka client gives up (it fetches again in its previous generation, no join) ends the wait too; a client
 * that neither fetches nor joins for `clientStallTimeoutMs` is stopped and started again ({@link ClientLivenessWatch}).
 *
 * Static membership (`groupInstanceId`): the Kafka client joins with the instance id, so a successor with the same
 * id takes this member's place and partitions without a rebalance. Its client leaves the group only on `stop()`
 * with `leaveGroupOnStop`; a restart of the client after a crash or a stall takes the old client's place. Fenced
 * by another live member with the same id, the member stops (`INSTANCE_FENCED`, see {@link ClientCrashRecovery}).
 */
import type { Admin, Consumer, EachBatchPayload } from '../core/kafka-client.ts';
import { errorSummary } from './handler-attempts.ts';
import { createGroupConsumer, createKafkaClient, isStaleCoordinatorError } from '../core/kafka-client.ts';
import { ConfigurationError, OrderlyError } from '../core/errors.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { BackpressureController } from './backpressure/backpressure-controller.ts';
import { EventLoopMonitor } from './backpressure/event-loop-monitor.ts';
import { PauseController, type AssignedPartition } from './backpressure/pause-controller.ts';
import { consumedRecordOf, firstVisit, partitionIdOf as partitionId, readRetryState, recordDelay, type ConsumedRecord } from './consumed-record.ts';
import { ConsumerEventEmitter } from './events.ts';
import { OffsetCommitter } from './offsets/offset-committer.ts';
import type { Committer } from './offsets/committer.ts';
import { EmitTransactions, type RecordEncoder } from './transactions/emit-transactions.ts';
import { ClientCrashRecovery } from './intake/client-crash-recovery.ts';
import { undecodableRecordOf } from './intake/undecodable-record.ts';
import { UndecodableBatchIntake } from './intake/undecodable-batch-intake.ts';
import { OffsetTracker } from './offsets/offset-tracker.ts';
import { CopartitionedAssigner } from './ordering/copartitioned-assigner.ts';
import { KeyScheduler } from './ordering/key-scheduler.ts';
import { shardKeyOf } from './ordering/ordering.ts';
import { validateOrderedConsumerOptions, type OrderedConsumerOptions, type ValidOrderedConsumerOptions } from './options.ts';
import { RecordAbandoned, RecordProcessor, type RecordLiveness, type RecordOutcome, type RecordSink } from './record-processor.ts';
import { DueTimeGate } from './retries/due-time-gate.ts';
import { HeldTierRecords } from './retries/held-tier-records.ts';
import { KeyParking } from './retries/key-parking.ts';
import { ProducerForwarder } from './dead-letter/dead-letter-publisher.ts';
import { checkTopicLayout, deadLetterTopicOf, parseRetryTopic, retryTopicOf } from './retries/topic-layout.ts';
import { within } from './lifecycle/within.ts';
import { DelayedEvents } from './delays/delayed-events.ts';
import { delayTierOf, delayTopicsOf, holdUntil, parseDelayTopic } from './delays/delay-levels.ts';
import { MemberStallReport } from './lifecycle/member-stall-report.ts';
import { ClientLivenessWatch } from './lifecycle/client-liveness-watch.ts';

type State = 'new' | 'running' | 'stopping' | 'stopped';

const priorityRank = { high: 0, normal: 1, low: 2 } as const;

/**
 * The fetch wait: how long the broker holds a fetch with no new records, and how long kafkajs sleeps when every
 * assigned partition is paused (it cannot be woken on a resume). The default record watermarks keep more than
 * this much work queued below the low mark (see `defaultRecordWatermarks`); an idle member fetches 10 times a second.
 */
const fetchMaxWaitMs = 100;

/**
 * How far ahead of its due time a tier record is fetched and held in memory. Longer than a fetch cycle, so a
 * gated partition is fetched again before its head is due; short, so held retries do not sit on the
 * watermarks for long.
 */
const tierPrefetchMs = 2_000;

/**
 * A tier partition whose fetched records are all held is paused until this long before the earliest due time
 * a later record can have (the last record's timestamp plus the tier delay): it is fetched in a few large
 * batches instead of one fetch per forwarded record, and still well before its records are due.
 */
const tierRefetchLeadMs = 500;

/**
 * How long a shard's transaction may stay open before the broker aborts it. A transaction is opened only to
 * write what is ready and commit (a few round trips), so this bounds a member that froze in the middle of one.
 */
const transactionTimeoutMs = 60_000;

/**
 * Shutdown timings. Of `shutdownTimeoutMs`, up to this much is kept back from the handlers for the final commit
 * and leaving the group (a quarter of it when it is short).
 */
const shutdownReserveMs = 3_000;
/** How long aborted handlers get to settle before their records are abandoned. */
const abortGraceMs = 1_000;
/** The least time given to the final commit and to each disconnect, even when the handlers used the whole budget. */
const minimumBrokerCallMs = 1_000;

export class OrderedConsumer<T = Buffer | null> {
  readonly events = new ConsumerEventEmitter();
  private readonly options: ValidOrderedConsumerOptions<T>;
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  /** Forwards to retry tiers and the DLT through a producer it owns (and replaces after an ambiguous failure). */
  private readonly forwarder: ProducerForwarder;
  private readonly admin: Admin;
  private readonly scheduler: KeyScheduler<ConsumedRecord>;
  private readonly tracker = new OffsetTracker();
  private readonly processor: RecordProcessor<T>;
  private readonly stopController = new AbortController();
  private readonly backpressure: BackpressureController;
  private readonly gate: DueTimeGate;
  private readonly held: HeldTierRecords<ConsumedRecord>;
  private readonly pauses: PauseController;
  private readonly parking: KeyParking | undefined;
  private readonly delays: DelayedEvents;
  private readonly undecodable: UndecodableBatchIntake;
  private readonly crashes: ClientCrashRecovery;
  private readonly stopped = settlable();
  private eventLoop: EventLoopMonitor | undefined;
  private assignment = new Set<string>();
  private memberId = '';
  private epoch = 0;
  private rebalancing = false;
  private state: State = 'new';
  private commitTimer: NodeJS.Timeout | undefined;
  /** The group's offset commit, or with `transactional` the shards' transactions (which commit the offsets too). */
  private readonly committer: Committer;
  private readonly transactions: EmitTransactions | undefined;
  private stopping: Promise<void> | undefined;
  private readonly stalls: MemberStallReport;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly clientWatch: ClientLivenessWatch;
  private clientWatchTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  /** The liveness of the records started in the current epoch: one object per epoch, not per record. */
  private liveness: RecordLiveness | undefined;
  private batchesWhilePaused = 0;
  private pumpScheduled = false;

  constructor(options: OrderedConsumerOptions<T>) {
    this.options = validateOrderedConsumerOptions(options);
    const { groupId } = this.options;
    this.logger = componentLogger(options.logger ?? createLogger(), 'ordered-consumer', { groupId });
    const kafka = createKafkaClient(this.options.kafka, this.logger);
    const { groupInstanceId } = this.options;
    // A static member leaves the group only when stop() is asked to move its partitions at once, never for a restart of its client.
    const membership = groupInstanceId === undefined ? undefined : { groupInstanceId, leavesGroup: () => this.state !== 'running' && this.options.leaveGroupOnStop };
    this.consumer = createGroupConsumer(kafka, {
      groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(this.options.sessionTimeoutMs, this.options.shutdownTimeoutMs),
      allowAutoTopicCreation: false,
      partitionAssigners: [CopartitionedAssigner],
      // Short fetch waits: a partition resumed (a retry tier now due, pressure gone) is fetched within this bound.
      // When every assigned partition is paused, kafkajs sleeps this long before it fetches again.
      maxWaitTimeInMs: fetchMaxWaitMs,
      // read_committed (kafkajs's default): records of aborted transactions are skipped, open ones waited for.
      readUncommitted: this.options.isolationLevel === 'read_uncommitted',
    }, membership);
    this.forwarder = new ProducerForwarder({ createProducer: () => kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false }), groupId, logger: this.logger });
    this.events.onListenerError = (event, error) => this.logger.warn({ event, err: errorSummary(error) }, 'a consumer.events listener threw; ignored');
    this.admin = kafka.admin();
    const lanes = this.options.lanes;
    this.scheduler = new KeyScheduler({
      ordering: this.options.ordering,
      concurrency: this.options.concurrency,
      topicShares: lanes.map((lane) => ({ topic: lane.topic, rank: priorityRank[lane.priority], concurrency: lane.concurrency ?? Infinity })),
    });
    this.backpressure = new BackpressureController({
      partition: {
        highRecords: this.options.partitionHighWatermarkRecords,
        lowRecords: this.options.partitionLowWatermarkRecords,
        highBytes: this.options.partitionHighWatermarkBytes,
        lowBytes: this.options.partitionLowWatermarkBytes,
      },
      member: {
        highRecords: this.options.memberHighWatermarkRecords,
        lowRecords: this.options.memberLowWatermarkRecords,
        highBytes: this.options.memberHighWatermarkBytes,
        lowBytes: this.options.memberLowWatermarkBytes,
      },
    });
    this.gate = new DueTimeGate(() => this.pauses.reconcile());
    this.held = new HeldTierRecords({
      shardKeyOf: (record) => shardKeyOf(record, this.options.ordering),
      // A delayed event that came within the hold horizon while it waited behind its key: held until due.
      holdAgainUntil: (record, now) => (record.delay?.kind === 'delayed' ? holdUntil(record.delay.deliverAt, now, now, this.delays.holdHorizonMs) : now),
      release: (records) => {
        // Due now: it counts as a backlog of its source topic (priority lanes) from here on, and its lane ranks
        // above the source's queued lanes (a delayed event does not wait behind a backlog fetched after it).
        for (const record of records) {
          record.released = true;
          this.scheduler.enqueue(record);
        }
        this.backpressure.moveTopic(records[0]!.topic, records[0]!.sourceTopic, records.length);
        if (this.options.lanes.length > 0) this.pauses.reconcile();
        this.pump();
      },
    });
    this.pauses = new PauseController({
      pause: (topic, partition) => this.whileClientRuns(() => this.consumer.pause([{ topic, partitions: [partition] }])),
      resume: (topic, partition) => this.whileClientRuns(() => this.consumer.resume([{ topic, partitions: [partition] }])),
      backpressure: this.backpressure,
      gate: this.gate,
      ranks: new Map(lanes.map((lane) => [lane.topic, priorityRank[lane.priority]])),
      priorityBacklogRecords: this.options.priorityBacklogRecords,
      ready: (id) => this.transactions?.isReady(id) ?? true,
      onChange: ({ topic, partition }, paused) => this.events.emit(paused ? 'consumer.partition.paused' : 'consumer.partition.resumed', { topic, partition }),
    });
    this.parking = this.options.parkingStore ? new KeyParking(this.options.parkingStore, { currentOwner: () => `${this.memberId}/${this.epoch}` }) : undefined;
    this.delays = new DelayedEvents({ groupId, levelsMs: this.options.delayLevelsMs, cancellations: this.options.cancellationStore });
    const forwarder = this.forwarder;
    this.undecodable = new UndecodableBatchIntake({
      groupId,
      skip: this.options.skipUndecodableBatches,
      logger: this.logger,
      events: this.events,
      track: ({ topic, partition, offset, partitionId }) => this.tracker.track(topic, partition, offset, partitionId),
      complete: ({ topic, partition, offset, partitionId }, epoch) => this.completeOffset(topic, partition, offset, partitionId, epoch),
      deadLetter: (stub, failure, origin) => forwarder.forward(deadLetterTopicOf(stub.sourceTopic, groupId), stub, failure, origin),
      holdPartition: (id, untilMs) => this.gate.holdUntil(id, untilMs),
      isCurrent: (epoch) => this.epoch === epoch && this.state === 'running',
    });
    this.crashes = new ClientCrashRecovery({
      groupId,
      ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
      restartOnCrash: this.options.restartOnCrash,
      consumer: this.consumer,
      logger: this.logger,
      events: this.events,
      restart: async () => {
        this.clientWatch.restarted();
        await this.consumer.connect();
        await this.runClient();
      },
      stopClient: () => this.consumer.stop(),
      onClientLost: () => this.resetPartitions({}),
      onGiveUp: (error) => {
        this.stopped.failWith(error);
        void this.stop();
      },
      isRunning: () => this.state === 'running',
    });
    this.clientWatch = new ClientLivenessWatch({
      stallTimeoutMs: this.options.clientStallTimeoutMs,
      expectsClient: () => this.state === 'running' && !this.crashes.isDown,
      onResumedWithoutJoin: (rebalanceOpenForMs) => this.onResumedWithoutJoin(rebalanceOpenForMs),
      onStalled: (stall) => this.crashes.stalled(stall),
    });
    this.stopped.promise.catch(() => undefined); // rejected for whoever awaits whenStopped(), never unhandled
    this.transactions = this.options.transactional
      ? new EmitTransactions({
          groupId,
          kafka,
          encoder: this.options.producer as unknown as RecordEncoder,
          tracker: this.tracker,
          events: this.events,
          logger: this.logger,
          transactionTimeoutMs: transactionTimeoutMs,
          holdBytes: (id, topic, bytes) => {
            if (this.backpressure.holdBytes(id, topic, bytes)) this.pauses.reconcile();
          },
          onReady: () => this.pauses.reconcile(),
          // The aborted transaction's records come again from the committed offsets: the member starts again.
          onFailure: () => this.crashes.stalled({ reason: 'transaction', stalledForMs: 0 }),
          rebalancing: () => this.rebalancing,
        })
      : undefined;
    this.processor = new RecordProcessor(this.options, {
      emitEncoder: this.transactions,
      forwarder,
      events: this.events,
      logger: this.logger,
      fencingToken: () => `${this.memberId}/${this.epoch}`,
      parking: this.parking,
      tierOf: (topic) => parseRetryTopic(topic, groupId, this.options.topics),
      delays: this.delays,
    });
    this.committer = this.transactions ?? new OffsetCommitter({
      tracker: this.tracker,
      // Outcomes seen by the client watch: kafkajs commits to the coordinator of its last join, even after it moved.
      commitOffsets: (offsets) =>
        this.consumer.commitOffsets(offsets).then(
          () => this.clientWatch.committed(),
          (error: unknown) => {
            this.clientWatch.commitFailed(isStaleCoordinatorError(error));
            throw error;
          },
        ),
      // While the client is down there is no group to commit to: the next owner starts from the last commit.
      holds: (topic, partition) => !this.crashes.isDown && this.assignment.has(partitionId(topic, partition)),
      rebalancing: () => this.rebalancing,
      events: this.events,
      logger: this.logger,
    });
    this.stalls = new MemberStallReport({
      stuckPartitionMs: this.options.stuckPartitionMs,
      concurrency: this.options.concurrency,
      tracker: this.tracker,
      scheduler: this.scheduler,
      events: this.events,
      logger: this.logger,
      rebalancing: () => this.rebalancing,
      heldRetries: (id) => this.held.heldFor(id),
      paused: (id) => this.pauses.isPaused(id),
    });
  }

  /** Joins the group and starts handling. Resolves once kafkajs runs; records arrive after the first join. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new OrderlyError('STOPPED', `start() may be called once; this consumer is ${this.state}`);
    this.state = 'running';
    try {
      await this.join();
    } catch (error) {
      // A failed start leaves nothing connected and the consumer stopped (stop() is then a no-op).
      this.state = 'stopped';
      this.eventLoop?.stop();
      await Promise.allSettled([this.consumer.disconnect(), this.forwarder.disconnect(), this.admin.disconnect(), this.transactions?.close()]);
      throw error;
    }
    // A crash during the join with restartOnCrash: false has stopped the member already: no timer to leak.
    if (this.state !== 'running') return;
    this.commitTimer = setInterval(() => void this.committer.commit(), this.options.commitIntervalMs);
    this.stallTimer = setInterval(() => this.stalls.check(), this.stalls.checkIntervalMs);
    this.stallTimer.unref();
    this.clientWatch.restarted();
    this.clientWatchTimer = setInterval(() => this.clientWatch.check(), this.clientWatch.checkIntervalMs);
    this.clientWatchTimer.unref();
  }

  private async join(): Promise<void> {
    const { GROUP_JOIN, REBALANCING, FETCH_START, FETCH } = this.consumer.events;
    this.consumer.on(REBALANCING, () => this.onRebalancing());
    this.consumer.on(GROUP_JOIN, ({ payload }) => this.onGroupJoin(payload.memberId, payload.memberAssignment));
    // Signs of life of the client's fetch loop (every fetch wait, paused or not): see ClientLivenessWatch.
    this.consumer.on(FETCH_START, () => this.clientWatch.fetchStarted());
    this.consumer.on(FETCH, () => this.clientWatch.fetched());
    await this.checkTopics();
    await this.options.decoder?.verify?.();
    await this.forwarder.connect();
    await this.consumer.connect();
    const tiers = this.options.topics.flatMap((topic) => this.options.retryTiersMs.map((_, index) => retryTopicOf(topic, this.options.groupId, index + 1)));
    const delayLevels = this.options.topics.flatMap((topic) => delayTopicsOf(topic, this.options.groupId, this.options.delayLevelsMs.length));
    await this.consumer.subscribe({ topics: [...this.options.topics, ...tiers, ...delayLevels], fromBeginning: this.options.startFrom === 'earliest' });
    if (this.options.maxEventLoopDelayMs > 0) {
      this.eventLoop = new EventLoopMonitor({
        maxDelayMs: this.options.maxEventLoopDelayMs,
        onChange: (overloaded) => {
          this.pauses.eventLoopOverloaded = overloaded;
          this.logger.warn({ eventLoopDelayMaxMs: Math.round(this.eventLoop?.lastMaxMs ?? 0), status: overloaded ? 'paused' : 'resumed' }, 'event-loop delay: fetching paused or resumed');
          this.pauses.reconcile();
        },
      });
    }
    await this.runClient();
  }

  private runClient(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** A call into the Kafka client's consumer that needs it running: skipped while it is down after a crash. */
  private whileClientRuns(call: () => void): void {
    if (this.crashes.isDown) return;
    try {
      call();
    } catch (error) {
      // kafkajs throws here between a crash and its CRASH event; the pause state is rebuilt at the next join.
      this.logger.debug({ err: { message: (error as Error).message } }, 'pause or resume skipped: the Kafka client consumer is not running');
    }
  }

  /** The source topics and their tiers must exist (never auto-created); a missing DLT only warns. */
  private async checkTopics(): Promise<void> {
    await this.admin.connect();
    try {
      const problems = await checkTopicLayout(this.admin, this.options.topics, this.options.groupId, this.options.retryTiersMs.length, this.options.delayLevelsMs.length);
      const blocking = problems.filter((problem) => !/^missing [^:]*\.dlt:/.test(problem));
      if (blocking.length > 0) throw new ConfigurationError(blocking.map((problem) => `topics: ${problem}`));
      for (const problem of problems) this.logger.warn({ problem }, 'dead-letter topic missing: dead letters wait, uncommitted, until it exists');
    } finally {
      await this.admin.disconnect();
    }
  }

  /** What the member holds now: for metrics and tests. */
  stats() {
    return {
      inFlight: this.scheduler.inFlight,
      queued: this.scheduler.queued,
      held: this.backpressure.memberLoad(),
      epoch: this.epoch,
      pausedPartitions: this.pauses.pausedCount,
      gatedPartitions: this.gate.size,
      /** Tier records fetched before their due time, waiting in memory (counted in `held` too). */
      heldRetries: this.held.size,
      eventLoopOverloaded: this.pauses.eventLoopOverloaded,
      /** Batches kafkajs delivered for a partition this member had paused (set aside, fetched again later). */
      batchesWhilePaused: this.batchesWhilePaused,
      /** Partitions whose watermark has not moved for `stuckPartitionMs` while records wait. */
      stalledPartitions: this.stalls.stalledCount,
      /** Partitions stopped at a record batch that could not be decoded (see `skipUndecodableBatches`). */
      blockedPartitions: this.undecodable.blockedPartitions,
      /** Idempotency claims taken for queued records ahead of their start, not used yet (see `ClaimAhead`). */
      claimsAhead: this.processor.claimsAhead().held,
      /** True from a crash of the Kafka client's consumer until it has joined the group again. */
      clientDown: this.crashes.isDown,
      /** `transactional`: emits kept for their shard's transaction, not committed yet. */
      pendingEmits: this.transactions?.pendingEmits ?? 0,
    };
  }

  /**
   * Whether the member consumes as it should: not while the Kafka client's consumer is down after a crash, nor
   * while a partition is stopped at an undecodable batch, nor while a transactional shard has failed to start
   * for 10 s (`transactional`). `/readyz` asks this (see `instrumentConsumer`).
   */
  health(): { ready: boolean; reasons: string[] } {
    const reasons = [...this.crashes.health().reasons, ...this.undecodable.health().reasons, ...(this.transactions?.health().reasons ?? [])];
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Resolves once the member has stopped; rejects with an `OrderlyError` (code `CLIENT_CRASHED`) when it
   * stopped itself because the Kafka client's consumer crashed and `restartOnCrash` is false.
   */
  whenStopped(): Promise<void> {
    return this.stopped.promise;
  }

  /** Partitions paused now, for any reason. */
  pausedPartitions(): { topic: string; partition: number }[] {
    return this.pauses.paused().map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Partitions the Kafka client itself holds paused: equal to {@link pausedPartitions} unless a pause went astray. */
  clientPausedPartitions(): { topic: string; partition: number }[] {
    return this.consumer.paused().flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
  }

  /** Keys parked for retries among the partitions seen since the last rebalance. */
  parkedKeys(): Promise<number> {
    return this.parking?.count() ?? Promise.resolve(0);
  }

  /**
   * Stops fetching, lets handlers in flight finish, commits the watermark and leaves the group (a static member
   * only with `leaveGroupOnStop`; else its partitions wait for its successor or its session timeout), all within
   * `shutdownTimeoutMs` (plus a second or two): handlers still running when their share of it is used up are
   * aborted and their records abandoned (they come again from the committed offset), and a broker that does
   * not answer is not waited for (the final commit and each disconnect are raced against the time left).
   * Nothing past an incomplete record is committed. Queued records that never started are left for the next
   * owner. A second call returns the first call's promise.
   */
  stop(): Promise<void> {
    if (this.state === 'running') this.stopping ??= this.shutDown();
    return this.stopping ?? Promise.resolve();
  }

  private async shutDown(): Promise<void> {
    this.state = 'stopping';
    this.crashes.stop();
    const deadline = Date.now() + this.options.shutdownTimeoutMs;
    const reserveMs = Math.min(shutdownReserveMs, this.options.shutdownTimeoutMs / 4);
    clearInterval(this.commitTimer);
    clearInterval(this.stallTimer);
    clearInterval(this.clientWatchTimer);
    this.eventLoop?.stop();
    this.gate.clear();
    this.pauses.stopping = true;
    this.pauses.reconcile();
    this.release(this.held.drop(), { held: true });
    this.release(this.scheduler.dropQueued());
    this.processor.dropClaimsAhead();
    const idle = await this.waitForIdle(deadline - reserveMs - Date.now());
    if (!idle) {
      this.logger.warn({ inFlight: this.scheduler.inFlight, shutdownTimeoutMs: this.options.shutdownTimeoutMs }, 'handlers still running at the shutdown deadline; aborting them');
      this.stopController.abort(new OrderlyError('STOPPED', 'the consumer is stopping'));
      await this.waitForIdle(abortGraceMs);
    }
    // Half of what is left for the final commit, the rest for leaving the group.
    await this.committer.commitFinal(Math.max((deadline - Date.now()) / 2, minimumBrokerCallMs));
    const leaveMs = Math.max(deadline - Date.now(), minimumBrokerCallMs);
    const [consumer, producer, transactions] = await Promise.all([
      within(this.consumer.disconnect(), leaveMs),
      within(this.forwarder.disconnect(), leaveMs),
      within(this.transactions?.close() ?? Promise.resolve(), leaveMs),
    ]);
    if (!consumer.settled || !producer.settled || !transactions.settled) {
      this.logger.warn({ durationMs: leaveMs }, 'the broker did not answer the disconnect in time; left without waiting (the group notices at the session timeout)');
    }
    this.state = 'stopped';
    this.stopped.settle();
  }

  private async onBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    if (this.state !== 'running') return;
    const id = partitionId(topic, partition);
    if (this.pauses.isPaused(id)) {
      // Fetched before the pause took effect: leave it unresolved, so it is fetched again after the resume.
      this.batchesWhilePaused++;
      return;
    }
    const tier = this.waitingTopicOf(topic);
    const sourceTopic = tier?.sourceTopic ?? topic;
    // The earliest due time a record after the last one taken can have, when that record was held.
    let nextDueFloor: number | undefined;
    // The last offset taken, resolved once after the loop (kafkajs's resolve parses and formats the offset
    // each time): whatever is not taken stays unresolved and is fetched again.
    let taken: string | undefined;
    try {
      nextDueFloor = this.takeMessages(batch.messages, { topic, partition, id, tier, sourceTopic }, isRunning, isStale, (offset) => (taken = offset));
    } finally {
      if (taken !== undefined) resolveOffset(taken);
    }
    // A successor forwarded behind a held head is due with it (not its own write time plus the tier delay), so
    // the partition is fetched again before the earliest held record is due too.
    const resumeAt = (nextDueFloor === undefined ? 0 : Math.min(nextDueFloor, this.held.earliestDue(id) ?? Infinity)) - tierRefetchLeadMs;
    if (Number.isFinite(resumeAt) && resumeAt > Date.now() + 20) this.gate.holdUntil(id, resumeAt);
    this.pauses.reconcile();
    this.pump();
  }

  /**
   * Takes a batch's records in order until one must wait (a tier record not due yet, a high-water mark, an
   * undecodable batch that blocks), telling `take` each offset taken. Returns the earliest due time a record
   * after the last one taken can have, when that record was held.
   */
  private takeMessages(
    messages: EachBatchPayload['batch']['messages'],
    { topic, partition, id, tier, sourceTopic }: { topic: string; partition: number; id: string; tier: ReturnType<OrderedConsumer['waitingTopicOf']>; sourceTopic: string },
    isRunning: () => boolean,
    isStale: () => boolean,
    take: (offset: string) => void,
  ): number | undefined {
    const maxDelayMs = tier?.maxDelayMs ?? 0;
    const tierDelayMs = tier?.delayMs ?? 0;
    let nextDueFloor: number | undefined;
    let committedBelow = this.transactions?.floorOf(id);
    for (const message of messages) {
      if (!isRunning() || isStale()) break;
      if (committedBelow !== undefined) {
        // Committed by the shard's last owner in a transaction not yet complete when the Kafka client read the
        // group's offsets at the join (EmitTransactions): done already, skipped.
        if (BigInt(message.offset) < committedBelow) {
          take(message.offset);
          continue;
        }
        this.transactions!.passedFloor(id);
        committedBelow = undefined;
      }
      const undecodable = undecodableRecordOf(message, topic, sourceTopic, partition, id);
      if (undecodable) {
        if (this.undecodable.admit(undecodable, this.epoch) === 'blocked') break;
        take(message.offset);
        continue;
      }
      let dueAt = 0;
      let retry = firstVisit;
      if (tier) {
        // Never early: a record due within the prefetch window is held in memory until it is due; at one due
        // later the partition waits, unresolved, and is fetched again when that record enters the window.
        retry = readRetryState(message.headers ?? {}, { now: Date.now(), maxDelayMs });
        dueAt = retry.dueAt;
        if (dueAt > Date.now() + tierPrefetchMs) {
          this.gate.holdUntil(id, dueAt - tierPrefetchMs);
          nextDueFloor = undefined;
          break;
        }
      }
      // Copied (key, value and headers): a held record must not pin the whole fetch response in memory.
      const record = consumedRecordOf(message, topic, sourceTopic, partition, id, tier?.tier ?? 0, retry);
      this.tracker.track(topic, partition, message.offset, id);
      if (this.events.listenerCount('consumer.record.received') > 0) this.events.emit('consumer.record.received', { topic, partition, offset: message.offset });
      // Delayed events (consumers/delays/): one pass over the headers. One due within the hold horizon is held
      // until due; a record behind a held one of its key waits behind it; a cancel record never waits.
      const delay = recordDelay(record);
      if (delay !== undefined) {
        record.delay = delay;
        if (delay.kind === 'delayed') dueAt = holdUntil(delay.deliverAt, tier ? dueAt : 0, Date.now(), this.delays.holdHorizonMs);
      }
      const held = (tier !== undefined || delay?.kind === 'delayed' || (delay === undefined && this.held.heldFor(id) > 0)) && this.held.hold(id, record, dueAt);
      // A retry held until due is no backlog of its source topic yet (priority lanes): counted under its tier.
      this.backpressure.add(id, held ? topic : sourceTopic, sizeOf(record));
      if (!held) {
        this.scheduler.enqueue(record);
        this.processor.offer(record);
      }
      // Later records were forwarded after this one, to the same tier: none is due before this floor, but for a
      // successor of a held head (due with its head: see the resume in onBatch).
      nextDueFloor = held ? Number(message.timestamp) + tierDelayMs : undefined;
      take(message.offset);
      // At a high-water mark the rest of the batch stays unresolved: fetched again after the resume, never held.
      if (this.pauses.shouldPauseId(id)) break;
    }
    return nextDueFloor;
  }

  /**
   * A retry tier or a delay level: its source, its tier number, its delay (the due time of each record is its
   * write time plus this) and the furthest due time a record may claim (later ones are capped). Undefined for a
   * source topic.
   */
  private waitingTopicOf(topic: string): { sourceTopic: string; tier: number; delayMs: number; maxDelayMs: number } | undefined {
    const { groupId, topics, retryTiersMs, retryJitter, delayLevelsMs } = this.options;
    const retry = parseRetryTopic(topic, groupId, topics);
    if (retry) return { ...retry, delayMs: retryTiersMs[retry.tier - 1] ?? 0, maxDelayMs: Math.max(0, ...retryTiersMs) * (1 + retryJitter) };
    const delay = parseDelayTopic(topic, groupId, topics);
    if (delay) return { sourceTopic: delay.sourceTopic, tier: delayTierOf(delay.level), delayMs: delayLevelsMs[delay.level - 1] ?? 0, maxDelayMs: Math.max(0, ...delayLevelsMs) };
    return undefined;
  }

  private pump(): void {
    if (this.state !== 'running' || this.rebalancing) return;
    const live = this.livenessOf(this.epoch);
    // Claims ahead first, so the records started now find theirs sent in the same store call; then topped up.
    this.processor.claimAhead(live);
    for (const record of this.scheduler.takeRunnable()) this.processor.start(record, live, this.sink);
    this.processor.claimAhead(live);
  }

  /** One pump for every record finished in a turn of the microtask queue, instead of one per record. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.scheduledPump);
  }

  private readonly scheduledPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  /** Where the processor reports each record: one object, no closure per record. */
  private readonly sink: RecordSink = {
    settled: (record, live, outcome) => this.finish(record, live.epoch, outcome),
    failed: (record, live, error) => this.finish(record, live.epoch, this.abandon(record, error)),
    // Its handler slot goes to the next record while the done marker is written (its key still waits).
    handlerDone: (record) => {
      this.scheduler.releaseSlot(record);
      this.schedulePump();
    },
  };

  private livenessOf(epoch: number): RecordLiveness {
    if (this.liveness?.epoch !== epoch) {
      this.liveness = { epoch, owner: `${this.memberId}/${epoch}`, isCurrent: () => this.epoch === epoch && this.state === 'running', signal: this.stopController.signal };
    }
    return this.liveness;
  }

  private abandon(record: ConsumedRecord, error: unknown): RecordOutcome {
    const abandoned = error instanceof RecordAbandoned;
    if (!abandoned) {
      // An error from the store or the broker itself: the record is not completed and will come again.
      this.logger.error({ topic: record.topic, partition: record.partition, offset: record.offset, err: { message: (error as Error).message } }, 'record processing failed unexpectedly');
    }
    const reason = !abandoned ? 'error' : this.state === 'running' ? 'rebalanced' : 'stopping';
    this.events.emit('consumer.record.abandoned', { topic: record.topic, partition: record.partition, offset: record.offset, reason });
    return 'abandoned';
  }

  private finish(record: ConsumedRecord, epoch: number, outcome: RecordOutcome): void {
    // Its emits wait for its shard's transaction (dropped when the epoch is over or it was abandoned: it comes again).
    if (record.emits) {
      if (outcome === 'abandoned') record.emits.dropped?.();
      else this.transactions?.add(record, shardKeyOf(record, this.options.ordering), record.emits, epoch);
    }
    this.scheduler.complete(record);
    if (outcome !== 'abandoned') this.completeOffset(record.topic, record.partition, record.offset, record.partitionId, epoch);
    if (this.backpressure.remove(record.partitionId, record.sourceTopic, sizeOf(record))) this.pauses.reconcile();
    else if (this.options.lanes.length > 0) this.pauses.reconcile();
    if (this.scheduler.inFlight === 0) this.notifyIdle();
    this.schedulePump();
  }

  private completeOffset(topic: string, partition: number, offset: string, partitionId: string, epoch: number): void {
    if (this.epoch === epoch) this.tracker.complete(topic, partition, offset, partitionId);
  }

  /** Queued (or held) records that will never run here: they stop counting against the watermarks. */
  private release(dropped: ConsumedRecord[], { held = false } = {}): void {
    for (const record of dropped) this.backpressure.remove(record.partitionId, held ? record.topic : record.sourceTopic, sizeOf(record));
  }

  private onRebalancing(): void {
    this.rebalancing = true;
    this.clientWatch.rebalancing();
    this.events.emit('consumer.group.rebalancing', { groupId: this.options.groupId });
    // No queued record starts before the join, which drops them all: their claims ahead are released now, so a
    // partition's next owner does not find them leased (nor wait for them) when it starts.
    this.processor.dropClaimsAhead();
    // Still in the old generation: commit what is completed before the partitions move.
    void this.committer.commit({ duringRebalance: true });
  }

  private onGroupJoin(memberId: string, assignment: Record<string, number[]>): void {
    this.memberId = memberId;
    this.clientWatch.joined();
    this.resetPartitions(assignment);
    this.rebalancing = false;
    this.crashes.joined();
    this.events.emit('consumer.group.joined', { groupId: this.options.groupId, epoch: this.epoch, assignment });
    this.logger.info({ epoch: this.epoch, partitions: this.assignment.size }, 'joined the group');
    this.committer.joined();
    this.pump();
  }

  /**
   * The Kafka client fetches again after a rebalance began, without a join: its rejoin failed on an error it
   * retries (seen when the group coordinator moved to a broker still loading the group, in a rolling restart),
   * and its retry went back to the previous generation. Nothing of the member's changed at the rebalance but
   * `rebalancing`, so it goes on with the partitions and records of its epoch; if the group did move on, the next
   * heartbeat says so and the client rejoins.
   */
  private onResumedWithoutJoin(rebalanceOpenForMs: number): void {
    if (this.state !== 'running' || !this.rebalancing) return;
    this.rebalancing = false;
    this.logger.warn(
      { epoch: this.epoch, partitions: this.assignment.size, durationMs: rebalanceOpenForMs },
      "the Kafka client's rejoin failed and it fetches again in its previous generation: going on with the partitions held",
    );
    this.events.emit('consumer.group.resumed', { groupId: this.options.groupId, epoch: this.epoch, rebalanceOpenForMs });
    this.pump();
  }

  /** A new epoch holding `assignment`: every queued record, held retry and watermark of the last one is forgotten. */
  private resetPartitions(assignment: Record<string, number[]>): void {
    this.epoch++;
    if (this.state === 'stopping') this.committer.carryOver((topic, partition) => Object.hasOwn(assignment, topic) && assignment[topic]!.includes(partition));
    this.tracker.drop();
    this.stalls.reset();
    this.release(this.held.drop(), { held: true });
    this.release(this.scheduler.dropQueued());
    this.processor.dropClaimsAhead();
    this.parking?.reset();
    // Tier partitions are fetched again from their committed offsets and gated again on their heads.
    this.gate.clear();
    const partitions: AssignedPartition[] = Object.entries(assignment).flatMap(([topic, numbers]) =>
      numbers.map((partition) => ({
        id: partitionId(topic, partition),
        topic,
        partition,
        sourceTopic: this.waitingTopicOf(topic)?.sourceTopic ?? topic,
      })),
    );
    this.assignment = new Set(partitions.map((partition) => partition.id));
    // Before the pauses: a shard's partitions stay paused until its transactional producer has started.
    this.transactions?.assign(this.epoch, partitions);
    this.pauses.setAssignment(partitions);
    this.undecodable.retain(this.assignment);
  }

  private waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.scheduler.inFlight === 0) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** The promise of {@link OrderedConsumer.whenStopped}: settled at the end of `stop()`, rejected when a failure was recorded first. */
function settlable(): { promise: Promise<void>; failWith: (error: unknown) => void; settle: () => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  let failure: { error: unknown } | undefined;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return {
    promise,
    failWith: (error) => (failure ??= { error }),
    settle: () => (failure ? reject(failure.error) : resolve()),
  };
}

/** What a held record costs: its key, value and header bytes plus a fixed overhead (counted at intake). */
function sizeOf(record: ConsumedRecord): number {
  return record.size;
}
