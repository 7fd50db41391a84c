/**
 * The adapter: the ONE place that builds the real classes of the record path (RecordProcessor, KeyParking,
 * OffsetTracker, KeyScheduler, RecordForwarder, DltReplayer) over the in-memory stores and the fake broker, and
 * wires them as OrderedConsumer does (fetch -> track + enqueue; pump -> process; finish -> complete the lane and
 * the offset; a rebalance -> new epoch, tracker and queues dropped, parking cache reset, fetch from committed).
 * When a constructor or a wiring step changes, only this file follows; the commands and the reference model
 * see the {@link RecordPathSystem} methods and the {@link WorldView}.
 */
import type { KafkaMessage } from '../../core/kafka-client.ts';
import { NonRetryableError } from '../../core/errors.ts';
import { createLogger } from '../../core/logger.ts';
import { consumedRecordOf, partitionIdOf, readHeader, readRetryState, type ConsumedRecord } from '../../consumers/consumed-record.ts';
import { ProducerForwarder } from '../../consumers/dead-letter/dead-letter-publisher.ts';
import { ConsumerEventEmitter } from '../../consumers/events.ts';
import type { IdempotencyStore } from '../../consumers/idempotency/idempotency-store.ts';
import { OffsetTracker } from '../../consumers/offsets/offset-tracker.ts';
import { KeyScheduler } from '../../consumers/ordering/key-scheduler.ts';
import { validateOrderedConsumerOptions, type HandledEvent, type HandlerContext } from '../../consumers/options.ts';
import { RecordAbandoned, RecordProcessor, type RecordLiveness, type RecordOutcome, type RecordSink } from '../../consumers/record-processor.ts';
import { KeyParking } from '../../consumers/retries/key-parking.ts';
import { deadLetterTopicOf, parseRetryTopic, retryTopicOf } from '../../consumers/retries/topic-layout.ts';
import { DltRateLimiter } from '../../operations/dlt-rate-limiter.ts';
import { toDltRecord } from '../../operations/dlt-record.ts';
import type { DltReplayStore } from '../../operations/dlt-replay-store.ts';
import { DltReplayer, planDltReplay } from '../../operations/dlt-replayer.ts';
import { releaseParkedKey } from '../../operations/parked-key-release.ts';
import { FakeBroker, type StoredRecord } from './fake-broker.ts';
import { MemoryIdempotencyStore, MemoryParkingStore, StoreFaults } from './in-memory-stores.ts';
import { eventIdHeader, eventIdOf, Observations, type WorldView } from './reference-model.ts';
import type { SimClock } from './sim-clock.ts';

export type HandlerOutcome = 'succeed' | 'fail' | 'fail-non-retryable' | 'hang' | 'reject-non-error' | 'fail-retry-check-throws';

export interface SystemConfig {
  onDeadLetter: 'release' | 'hold';
  inPlaceRetries: number;
  members: number;
  partitions: number;
  concurrency: number;
  /**
   * `dlt replay` may pick an event whose dead-lettering is still in flight (DLT record written, done marker not
   * yet): the replay forgets no marker, the consumer then writes it, and the replayed copy is skipped. False:
   * only events no member is processing are replayed.
   */
  replayWhileDeadLettering: boolean;
  /** A claim's lease may run out while its holder still processes the event (else only once it stopped or died). */
  leasesExpireUnderLiveHolders: boolean;
  /** A rebalance may move a partition away from a live member while it processes a record of it. */
  movesWhileInFlight: boolean;
  /** `keys release` and `dlt replay` may touch a key while a member processes one of its records. */
  operatorToolsOnBusyKeys: boolean;
}

export const groupId = 'g';
export const sourceTopic = 'orders';
export const retryTiersMs = [1_000, 5_000] as const;
export const handlerTimeoutMs = 1_000;
const retryCheckMarker = 'the retry check throws on this error';

/** A handler call waiting for the test to settle it. */
interface PendingCall {
  member: Member;
  eventId: string;
  context: HandlerContext;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One record being processed, and the side effects it made so far. */
interface Processing {
  eventId: string;
  key: string;
  partition: number;
  /** The fencing tokens of the claims it made. */
  claimTokens: Set<string>;
  effects: number;
  deadLetterForwards: number;
}

/** A member whose process is dead answers nothing: every call of its stores and producer hangs. */
function severable<T extends object>(target: T, usable: () => boolean): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (usable() ? (value as (...a: unknown[]) => unknown).apply(object, args) : new Promise(() => undefined));
    },
  });
}

class Member {
  readonly name: string;
  readonly memberId: string;
  epoch = 0;
  alive = true;
  readonly tracker = new OffsetTracker();
  readonly scheduler: KeyScheduler<ConsumedRecord>;
  readonly parking: KeyParking;
  readonly processor: RecordProcessor<Buffer | null>;
  /** Partitions (of the source topic and, co-partitioned, its tiers) assigned. */
  assignment = new Set<number>();
  readonly positions = new Map<string, number>();
  readonly processing = new Map<string, Processing>();
  /** Claim tokens taken ahead (at fetch) for events whose processing has not started yet. */
  private readonly claimedAhead = new Map<string, Set<string>>();
  private readonly system: RecordPathSystem;
  private readonly stop = new AbortController();
  private liveness: RecordLiveness | undefined;

  constructor(system: RecordPathSystem, name: string, incarnation: number) {
    this.system = system;
    this.name = name;
    this.memberId = `${name}-${incarnation}`;
    const usable = () => this.alive;
    const parkingStore = severable(system.parkingStore, usable);
    const idempotencyStore = severable(this.recordingClaims(system.idempotencyStore), usable);
    const options = validateOrderedConsumerOptions<Buffer | null>({
      kafka: { brokers: ['127.0.0.1:1'] } as never,
      groupId,
      topics: [sourceTopic],
      handler: (event, context) => system.onHandlerCall(this, event, context),
      ordering: 'key',
      concurrency: system.config.concurrency,
      handlerTimeoutMs,
      inPlaceRetries: system.config.inPlaceRetries,
      retryBackoffMs: 100,
      retryTiersMs: [...retryTiersMs],
      retryJitter: 0,
      onDeadLetter: system.config.onDeadLetter,
      idempotencyStore,
      parkingStore,
      maxEventLoopDelayMs: 0,
      isRetryable: (error) => {
        if (error instanceof Error && error.message === retryCheckMarker) throw new Error('isRetryable failed');
        return true;
      },
    });
    this.scheduler = new KeyScheduler({ ordering: 'key', concurrency: system.config.concurrency });
    this.parking = new KeyParking(parkingStore, { currentOwner: () => `${this.memberId}/${this.epoch}` });
    const producer = system.broker.producer((topic, record) => this.observeForward(topic, record), usable);
    this.processor = new RecordProcessor(options, {
      forwarder: new ProducerForwarder({ createProducer: () => producer, groupId, logger: createLogger() }),
      events: new ConsumerEventEmitter(),
      logger: createLogger({ level: process.env.MODEL_LOG_LEVEL ?? 'silent' }).child({ member: this.memberId }),
      fencingToken: () => `${this.memberId}/${this.epoch}`,
      parking: this.parking,
      tierOf: (topic) => parseRetryTopic(topic, groupId, [sourceTopic]),
    });
  }

  /** The store, noting which processing made each claim (a lease outlives a finished holder only). */
  private recordingClaims(store: IdempotencyStore): IdempotencyStore {
    return {
      claim: (request) => {
        // A claim taken ahead (at fetch) belongs to the processing its record starts later.
        const processing = this.processing.get(request.eventId);
        if (processing) processing.claimTokens.add(request.fencingToken);
        else this.claimedAhead.set(request.eventId, (this.claimedAhead.get(request.eventId) ?? new Set()).add(request.fencingToken));
        return store.claim(request);
      },
      complete: (...args) => store.complete(...args),
      forgetDeadLettered: (eventId) => store.forgetDeadLettered(eventId),
      release: (eventId, token) => store.release(eventId, token),
      isSettled: store.isSettled && ((eventId) => store.isSettled!(eventId)),
    };
  }

  private observeForward(topic: string, record: StoredRecord): void {
    if (topic !== this.system.deadLetterTopic) return;
    const processing = this.processing.get(eventIdOf(record) ?? '');
    if (processing) processing.deadLetterForwards++;
  }

  private livenessOf(epoch: number): RecordLiveness {
    if (this.liveness?.epoch !== epoch) this.liveness = { epoch, isCurrent: () => this.alive && this.epoch === epoch, signal: this.stop.signal };
    return this.liveness;
  }

  /** After a rebalance: the group's new generation and this member's partitions (OrderedConsumer.onGroupJoin). */
  join(partitions: number[]): void {
    this.epoch++;
    this.tracker.drop();
    this.scheduler.dropQueued();
    this.processor.dropClaimsAhead();
    this.parking.reset();
    this.assignment = new Set(partitions);
    this.positions.clear();
    for (const partition of partitions) for (const topic of this.system.topics) this.positions.set(partitionIdOf(topic, partition), this.system.broker.committed(topic, partition));
    this.pump();
  }

  /** Fetches up to `max` records of each topic of a partition; a tier record not yet due ends its fetch. */
  fetch(partition: number, max: number): void {
    if (!this.alive || !this.assignment.has(partition)) return;
    for (const topic of this.system.topics) {
      const id = partitionIdOf(topic, partition);
      const log = this.system.broker.log(topic, partition);
      let position = this.positions.get(id) ?? 0;
      for (let taken = 0; taken < max && position < log.length; taken++, position++) {
        const stored = log[position]!;
        if (topic !== sourceTopic && Number(readHeader(stored.headers, 'orderly-due-at') ?? 0) > Date.now()) break;
        const message = { offset: String(stored.offset), key: stored.key, value: stored.value, headers: stored.headers, timestamp: stored.timestamp, attributes: 0 } as unknown as KafkaMessage;
        const tier = parseRetryTopic(topic, groupId, [sourceTopic]);
        const retry = tier ? readRetryState(stored.headers, { now: Date.now(), maxDelayMs: Math.max(...retryTiersMs) }) : undefined;
        const record = consumedRecordOf(message, topic, sourceTopic, partition, id, tier?.tier ?? 0, retry);
        this.tracker.track(topic, partition, record.offset, id);
        // Some source records rank as if released from the in-memory hold (a delayed event at its due time):
        // above the source's queued lanes, which must keep per-key order all the same.
        if (topic === sourceTopic && stored.offset % 3 === 1) record.released = true;
        this.scheduler.enqueue(record);
        this.processor.offer(record);
      }
      this.positions.set(id, position);
    }
    this.pump();
  }

  pump(): void {
    if (!this.alive) return;
    // As OrderedConsumer.pump: claims ahead, the records that may start, claims ahead topped up.
    this.processor.claimAhead(this.livenessOf(this.epoch));
    for (const record of this.scheduler.takeRunnable()) this.run(record);
    this.processor.claimAhead(this.livenessOf(this.epoch));
  }

  /** As OrderedConsumer's sink: a record whose handler is done gives its slot back while its done marker is written. */
  private readonly sink: RecordSink = {
    settled: () => undefined,
    failed: () => undefined,
    handlerDone: (record) => {
      this.scheduler.releaseSlot(record);
      queueMicrotask(() => this.pump());
    },
  };

  private run(record: ConsumedRecord): void {
    const epoch = this.epoch;
    const eventId = readHeader(record.headers, eventIdHeader) ?? '';
    const processing: Processing = { eventId, key: record.key?.toString('utf8') ?? '', partition: record.partition, claimTokens: this.claimedAhead.get(eventId) ?? new Set(), effects: 0, deadLetterForwards: 0 };
    this.claimedAhead.delete(eventId);
    this.processing.set(processing.eventId, processing);
    let running: Promise<RecordOutcome>;
    try {
      running = this.processor.process(record, this.livenessOf(epoch), this.sink);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (outcome) => this.finish(record, epoch, outcome, processing),
      (error: unknown) => {
        if (!(error instanceof RecordAbandoned)) this.system.unexpectedErrors.push(error);
        this.finish(record, epoch, 'abandoned', processing);
      },
    );
  }

  private finish(record: ConsumedRecord, epoch: number, outcome: RecordOutcome, processing: Processing): void {
    if (!this.alive) return;
    if (this.processing.get(processing.eventId) === processing) this.processing.delete(processing.eventId);
    this.system.outcomes.set(outcome, (this.system.outcomes.get(outcome) ?? 0) + 1);
    this.system.note(`${this.memberId}/${epoch} ${record.topic}@${record.offset} ${processing.eventId}: ${outcome}${this.epoch === epoch ? '' : ' (stale epoch)'}`);
    if (outcome === 'abandoned' || outcome === 'fenced') this.system.observed.addUnconfirmed(processing.eventId, processing.effects + processing.deadLetterForwards);
    this.scheduler.complete(record);
    if (outcome !== 'abandoned' && this.epoch === epoch) this.tracker.complete(record.topic, record.partition, record.offset, record.partitionId);
    this.pump();
  }

  /** Commits the watermarks that moved, for the partitions held (checked against the model first). */
  commit(check: (topic: string, partition: number, from: number, to: number) => void): void {
    if (!this.alive) return;
    for (const offset of this.tracker.uncommitted()) {
      if (!this.assignment.has(offset.partition)) continue;
      const from = this.system.broker.committed(offset.topic, offset.partition);
      const to = Number(offset.offset);
      if (to > from) check(offset.topic, offset.partition, from, to);
      this.system.broker.commit(offset.topic, offset.partition, to);
      this.tracker.markCommitted(offset);
    }
  }

  /** The process dies: nothing it started goes on; its in-flight side effects were never confirmed. */
  crash(): void {
    this.system.note(`${this.memberId} dies with ${[...this.processing.keys()].join(',') || 'nothing'} in flight`);
    this.alive = false;
    for (const processing of this.processing.values()) this.system.observed.addUnconfirmed(processing.eventId, processing.effects + processing.deadLetterForwards);
    this.processing.clear();
  }

  /** A record of the partition (source or tier) is being processed. */
  hasInFlight(partition: number): boolean {
    return [...this.processing.values()].some((processing) => processing.partition === partition);
  }

  get busy(): boolean {
    return this.scheduler.inFlight > 0 || this.scheduler.queued > 0;
  }
}

export class RecordPathSystem implements WorldView {
  readonly config: SystemConfig;
  readonly clock: SimClock;
  readonly broker = new FakeBroker();
  readonly faults = new StoreFaults();
  readonly idempotencyStore = new MemoryIdempotencyStore(this.faults);
  readonly parkingStore = new MemoryParkingStore(this.faults);
  readonly observed = new Observations();
  readonly sourceTopic = sourceTopic;
  readonly tierTopics = retryTiersMs.map((_, index) => retryTopicOf(sourceTopic, groupId, index + 1));
  readonly deadLetterTopic = deadLetterTopicOf(sourceTopic, groupId);
  readonly topics = [sourceTopic, ...this.tierTopics];
  readonly pending: PendingCall[] = [];
  readonly unexpectedErrors: unknown[] = [];
  /** How the processings ended, by outcome: what a run exercised. */
  readonly outcomes = new Map<string, number>();
  members: Member[] = [];
  private incarnations = 0;
  private draining = false;
  private readonly replayCounts = new Map<string, number>();
  private readonly replayer: DltReplayer;
  readonly violations: string[] = [];
  checkCommit: (topic: string, partition: number, from: number, to: number) => string[] = () => [];

  constructor(config: SystemConfig, clock: SimClock) {
    this.config = config;
    this.clock = clock;
    if (!config.leasesExpireUnderLiveHolders) {
      this.idempotencyStore.holderBusy = (token, eventId) => this.members.some((member) => {
        const processing = member.processing.get(eventId);
        return member.alive && processing !== undefined && processing.claimTokens.has(token);
      });
    }
    for (let index = 0; index < config.members; index++) this.members.push(new Member(this, `m${index}`, ++this.incarnations));
    // Only markReplayed is used by the replayer; typed through Pick so a change of its signature fails to compile here.
    const counting: Pick<DltReplayStore, 'markReplayed'> = { markReplayed: async ({ topic, partition, offset }) => this.countReplay(`${topic}:${partition}:${offset}`) };
    const replayStore = counting as DltReplayStore;
    this.replayer = new DltReplayer({
      producer: this.broker.producer(),
      idempotencyStore: this.idempotencyStore,
      parkingStore: this.parkingStore,
      replayStore,
      sourceTopic,
      groupId,
      limiter: new DltRateLimiter({ ratePerSecond: 1_000_000 }),
    });
  }

  get partitions(): number {
    return this.config.partitions;
  }

  parkingEntries() {
    return this.parkingStore.entries();
  }

  keysWithLostParkingWrites(): ReadonlySet<string> {
    return this.parkingStore.keysWithLostWrites;
  }

  private countReplay(id: string): number {
    const count = (this.replayCounts.get(id) ?? 0) + 1;
    this.replayCounts.set(id, count);
    return count;
  }

  onHandlerCall(member: Member, event: HandledEvent<Buffer | null>, context: HandlerContext): Promise<void> {
    if (!member.alive) return new Promise(() => undefined);
    return new Promise<void>((resolve, reject) => {
      const call: PendingCall = { member, eventId: event.eventId, context, resolve, reject };
      if (this.draining) this.settleCall(call, 'succeed');
      else this.pending.push(call);
    });
  }

  private settleCall(call: PendingCall, outcome: HandlerOutcome): void {
    if (outcome === 'hang' || !call.member.alive) return;
    // A handler that honours its abort signal takes no effect after it.
    if (call.context.signal.aborted) return call.reject(call.context.signal.reason);
    switch (outcome) {
      case 'succeed': {
        this.observed.effects.push({ eventId: call.eventId, sequence: this.observed.nextSequence() });
        this.note(`${call.member.memberId} handler effect of ${call.eventId} (attempt ${call.context.attempt})`);
        const processing = call.member.processing.get(call.eventId);
        if (processing) processing.effects++;
        return call.resolve();
      }
      case 'fail':
        return call.reject(new Error('handler failed'));
      case 'fail-non-retryable':
        return call.reject(new NonRetryableError('handler refused the event'));
      case 'reject-non-error':
        return call.reject(Object.create(null));
      case 'fail-retry-check-throws':
        return call.reject(new Error(retryCheckMarker));
    }
  }

  /** What happened, in order, when MODEL_TRACE is set: printed with a counterexample's violations. */
  readonly trace: string[] | undefined = process.env.MODEL_TRACE ? [] : undefined;

  note(line: string): void {
    this.trace?.push(`${this.clock.now - 1_800_000_000_000} ms: ${line}`);
  }

  // ---- actions ----

  produce(key: string, partition: number): string {
    const eventId = `e${this.observed.produced.length + 1}`;
    this.broker.append(sourceTopic, partition, { key: Buffer.from(key), value: Buffer.from(`value of ${eventId}`), headers: { [eventIdHeader]: eventId } });
    this.observed.produced.push({ eventId, key, partition, sequence: this.observed.nextSequence() });
    return eventId;
  }

  async fetch(member: number, partition: number, max: number): Promise<void> {
    this.members[member % this.members.length]!.fetch(partition, max);
    await this.clock.flush();
  }

  /** Settles the pending handler call at `index` (modulo the calls pending). */
  async settle(index: number, outcome: HandlerOutcome): Promise<void> {
    if (this.pending.length === 0) return;
    const [call] = this.pending.splice(index % this.pending.length, 1);
    this.settleCall(call!, outcome);
    await this.clock.flush();
  }

  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  async commit(member: number): Promise<void> {
    this.members[member % this.members.length]!.commit((topic, partition, from, to) => this.violations.push(...this.checkCommit(topic, partition, from, to)));
    await this.clock.flush();
  }

  /** Every member commits (old generation), then joins with its new partitions; a dead member is replaced. */
  async rebalance(requested: readonly number[]): Promise<void> {
    // Restricted: a partition whose live owner has a record of it in flight stays with that owner.
    const owners = requested.map((owner, partition) => {
      if (this.config.movesWhileInFlight) return owner;
      const current = this.members.findIndex((member) => member.alive && member.assignment.has(partition) && member.hasInFlight(partition));
      return current >= 0 ? current : owner;
    });
    for (let index = 0; index < this.members.length; index++) {
      const member = this.members[index]!;
      member.commit((topic, partition, from, to) => this.violations.push(...this.checkCommit(topic, partition, from, to)));
      if (!member.alive) this.members[index] = new Member(this, member.name, ++this.incarnations);
    }
    for (let index = 0; index < this.members.length; index++) {
      const partitions = owners.flatMap((owner, partition) => (owner === index ? [partition] : []));
      this.members[index]!.join(partitions);
    }
    await this.clock.flush();
  }

  async crash(member: number): Promise<void> {
    this.members[member % this.members.length]!.crash();
    await this.clock.flush();
  }

  redisOutage(ms: number): void {
    this.faults.outageUntil = Math.max(this.faults.outageUntil, Date.now() + ms);
  }

  /** Every claim's lease runs out now (its holder was frozen, or Redis was down, longer than the lease). */
  expireLeases(): void {
    this.idempotencyStore.expireAll();
  }

  failRedisCalls(count: number): void {
    this.faults.failNext += count;
  }

  loseClaimReplies(count: number): void {
    this.faults.loseNextClaimReplies += count;
  }

  loseParkingWrites(count: number): void {
    this.faults.loseNextParkingWrites += count;
  }

  failForwards(count: number): void {
    this.broker.failNextSends += count;
  }

  /**
   * An operator tool runs with the faults suspended (an operator whose command failed runs it again); calls of
   * the members interleaved with the tool's see no fault either, and the faults resume after it.
   */
  private async withoutFaults<R>(tool: () => Promise<R>): Promise<R> {
    const saved = { outageUntil: this.faults.outageUntil, failNext: this.faults.failNext, loseNextParkingWrites: this.faults.loseNextParkingWrites, loseNextClaimReplies: this.faults.loseNextClaimReplies, failNextSends: this.broker.failNextSends };
    this.faults.outageUntil = 0;
    this.faults.failNext = 0;
    this.faults.loseNextParkingWrites = 0;
    this.faults.loseNextClaimReplies = 0;
    this.broker.failNextSends = 0;
    try {
      return await tool();
    } finally {
      Object.assign(this.faults, { outageUntil: saved.outageUntil, failNext: saved.failNext, loseNextParkingWrites: saved.loseNextParkingWrites, loseNextClaimReplies: saved.loseNextClaimReplies });
      this.broker.failNextSends = saved.failNextSends;
    }
  }

  /** Keys with a record being processed by a member (alive: a dead member's calls never land). */
  private busyKeys(): Set<string> {
    return new Set(this.members.filter((member) => member.alive).flatMap((member) => [...member.processing.values()].map((processing) => processing.key)));
  }

  /** `orderly keys release <key> --confirm`, as the CLI does it (no faults: an operator retries). */
  async releaseKey(key: string): Promise<void> {
    if (!this.config.operatorToolsOnBusyKeys && this.busyKeys().has(key)) return;
    const entries = this.parkingStore.entries().filter((entry) => entry.key === key && entry.topic === sourceTopic);
    await this.withoutFaults(async () => {
      for (const { partition, state } of entries) if (state.held) await releaseParkedKey(this.parkingStore, sourceTopic, partition, key);
    });
    await this.clock.flush();
  }

  /** `orderly dlt replay` of the DLT records of one event (the `index`-th event in the DLT), as the CLI plans it. */
  async replayDeadLetters(index: number): Promise<void> {
    const records = Array.from({ length: this.partitions }, (_, partition) => this.broker.log(this.deadLetterTopic, partition).map((stored) => ({ partition, stored }))).flat();
    if (records.length === 0) return;
    const processing = new Set(this.members.flatMap((member) => [...member.processing.keys()]));
    const busy = this.busyKeys();
    const eventIds = [...new Set(records.filter(({ stored }) => this.config.operatorToolsOnBusyKeys || !busy.has(stored.key?.toString('utf8') ?? '')).map(({ stored }) => eventIdOf(stored)))].filter(
      (id) => this.config.replayWhileDeadLettering || !processing.has(id ?? ''),
    );
    if (eventIds.length === 0) return;
    const eventId = eventIds[index % eventIds.length];
    const chosen = records
      .filter(({ stored }) => eventIdOf(stored) === eventId)
      .map(({ partition, stored }) => toDltRecord(this.deadLetterTopic, partition, { offset: String(stored.offset), key: stored.key, value: stored.value, headers: stored.headers, timestamp: stored.timestamp, attributes: 0 } as unknown as KafkaMessage));
    const parked = new Map(this.parkingStore.entries().map((entry) => [`${entry.partition}\u0000${entry.key}`, entry.state]));
    const plan = planDltReplay(chosen, {
      sourceTopic,
      groupId,
      maxReplays: 3,
      includeReplayed: false,
      replaysOf: (record) => this.replayCounts.get(`${record.topic}:${record.partition}:${record.offset}`) ?? 0,
      parkedStateOf: (record) => parked.get(`${record.partition}\u0000${record.key ?? ''}`),
    });
    const replayed = plan.filter((item) => item.action === 'source' || item.action === 'lane');
    await this.withoutFaults(() => this.replayer.replay(plan));
    for (const item of replayed) this.observed.replays.set(item.eventId, (this.observed.replays.get(item.eventId) ?? 0) + 1);
    await this.clock.flush();
  }

  /**
   * Drains: the faults end, every handler (pending and new) succeeds except hung ones, the live members share
   * the partitions (when one has no live owner), a key left parked (or held with events queued: released first)
   * gets one more event, and time passes with fetches and commits until every topic is committed to its end.
   */
  async drain(): Promise<void> {
    this.faults.clear();
    this.broker.failNextSends = 0;
    this.draining = true;
    for (const call of this.pending.splice(0)) this.settleCall(call, 'succeed');
    // A rebalance only when a partition has no live owner (a rebalance redelivers what is not committed).
    const owners = Array.from({ length: this.partitions }, (_, partition) => this.members.findIndex((member) => member.alive && member.assignment.has(partition)));
    if (owners.includes(-1)) await this.rebalance(Array.from({ length: this.partitions }, (_, partition) => partition % this.members.length));
    await this.drainRounds();
    // A key left parked (not held) with nothing moving it gets one more event, read by a member that has no
    // cache of it: it must go through (a queue may be repaired lazily, at the key's next event); the invariants
    // then require the key unparked.
    // A held key with events still queued is released first, as an operator would: then it must move on too.
    const parked = this.parkingStore.entries().filter((entry) => !entry.state.held || entry.state.queue.length > 0);
    // Only once everything settled: a rebalance must not hide a stall.
    if (parked.length > 0 && this.settled()) {
      for (const { key, state } of parked) if (state.held) await this.releaseKey(key);
      // After a rebalance (caches reset, nothing uncommitted to redeliver), so the probe reads the store's state.
      await this.rebalance(Array.from({ length: this.partitions }, (_, partition) => this.members.findIndex((member) => member.assignment.has(partition))));
      for (const { key, partition } of parked) this.note(`probe: one more event of parked key ${key} (${this.produce(key, partition)})`);
      await this.drainRounds();
    }
  }

  private async drainRounds(): Promise<void> {
    for (let round = 0; round < 80; round++) {
      for (const member of this.members) for (let partition = 0; partition < this.partitions; partition++) member.fetch(partition, 1_000);
      await this.clock.advance(round < 4 ? 0 : 500);
      for (const member of this.members) member.commit((topic, partition, from, to) => this.violations.push(...this.checkCommit(topic, partition, from, to)));
      if (this.settled()) break;
    }
  }

  private settled(): boolean {
    if (this.members.some((member) => member.alive && member.busy)) return false;
    for (const topic of this.topics) {
      for (let partition = 0; partition < this.partitions; partition++) if (this.broker.committed(topic, partition) < this.broker.log(topic, partition).length) return false;
    }
    return true;
  }
}
