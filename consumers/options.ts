/** The options of {@link OrderedConsumer}: one zod schema, validated once, every problem reported together. */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { KafkaClientOptions } from '../core/kafka-client.ts';
import type { Logger } from '../core/logger.ts';
import type { ValueDecoder } from '../schemas/value-decoder.ts';
import type { PublishedEvent } from '../producers/outgoing-event.ts';
import type { EmitProducer, EmittedEvent } from './emit/attempt-emits.ts';
import type { IdempotencyStore } from './idempotency/idempotency-store.ts';
import type { ParkingStore } from './retries/parking-store.ts';
import type { CancellationStore } from './delays/cancellation-store.ts';
import { orderings, type Ordering } from './ordering/ordering.ts';

/** One event as a handler sees it. */
export interface HandledEvent<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
  /** `orderly-event-id`, else `<topic>:<partition>:<offset>` (stable across redeliveries). */
  eventId: string;
  eventType: string | undefined;
  /** Every header decoded as UTF-8 (one that is not is left out). Computed on first read; not copied by `{ ...event }`. */
  headers: Record<string, string>;
  /** Broker timestamp, epoch ms as a string. */
  timestamp: string;
  /**
   * SHA-256 of the raw value (base64url, 22 chars): tells a redelivery from an id reused for other content.
   * Computed on first read (with an idempotency store, always); not copied by `{ ...event }`.
   */
  payloadHash: string;
}

export interface HandlerContext {
  /** Aborted when the attempt passes `handlerTimeoutMs` or the consumer stops. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * Publishes a follow-up event through the consumer's `producer` (acks=all). The source event completes only
   * once every event it emitted was acknowledged; a failed emit fails the attempt. The emitted event's id is
   * derived from the group, the source event's id and the emit's index (in call order), so a source handled
   * again emits the same ids and consumers downstream drop the repeats (see docs/handlers.md). Throws without
   * a `producer`. With `transactional`, it resolves once the event is encoded and kept with the attempt
   * (`partition` -1, `offset` '-1'): it is written by the transaction that commits its source's offset.
   */
  emit<V>(topic: string, key: string, event: EmittedEvent<V>): Promise<PublishedEvent>;
}

export type EventHandler<T> = (event: HandledEvent<T>, context: HandlerContext) => Promise<void>;

/** A source topic with its priority and its own share of the handler slots. */
export interface PriorityLane {
  topic: string;
  /** @defaultValue `'normal'` */
  priority?: 'high' | 'normal' | 'low';
  /** Handler calls in flight at once for this topic (and its retry tiers). @defaultValue no limit of its own */
  concurrency?: number;
}

export interface OrderedConsumerOptions<T = unknown> {
  kafka: KafkaClientOptions;
  groupId: string;
  /** Source topics. Give `topics` or `lanes` (or both, when every topic has a lane). */
  topics?: string[];
  /**
   * Priority lanes: lower-priority topics pause fetching while a higher one holds more than
   * `priorityBacklogRecords` records, and each lane's `concurrency` keeps slow work from taking every slot.
   */
  lanes?: PriorityLane[];
  /** Records held by a higher-priority lane above which lower lanes pause. @defaultValue 100 */
  priorityBacklogRecords?: number;
  handler: EventHandler<T>;
  /**
   * The producer `context.emit` publishes through: an `EventProducer` (idempotent, acks=all). Unset: `emit`
   * throws. With `transactional`, it encodes the emits and the consumer's transactions write them. @defaultValue undefined
   */
  producer?: EmitProducer;
  /**
   * Kafka transactions for the emits (docs/handlers.md, "Kafka transactions"): the emits of a handler's successful
   * attempt and its source's offset are written in one transaction per source partition (with its retry tiers)
   * every `commitIntervalMs`, under the transactional id `<groupId>.<source topic>.<partition>`, so a consumer
   * downstream that reads `read_committed` sees each emit once and never one of an attempt that failed or was not
   * committed. Emits are visible downstream only after that commit: set `commitIntervalMs` to the latency you
   * accept (100 ms, say). Needs `producer` (an `EventProducer`). @defaultValue false
   */
  transactional?: boolean;
  /**
   * What this consumer reads of a topic written in transactions: `'read_committed'` skips the records of aborted
   * transactions and reads no further than the first open one; `'read_uncommitted'` reads every record as soon as
   * it is written. @defaultValue `'read_committed'` (kafkajs's `readUncommitted: false`)
   */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** Decodes values; throws DecodeError for bad input. @defaultValue raw bytes */
  decoder?: ValueDecoder<T>;
  /** @defaultValue `'key'` */
  ordering?: Ordering;
  /**
   * Handler calls in flight at once, across keys and partitions. A record whose handler succeeded gives its slot
   * to the next record while its idempotency done marker is written; its key's next record still waits for it.
   * @defaultValue 64
   */
  concurrency?: number;
  /** One attempt's limit, in ms; past it the attempt fails as `handler-timeout`. @defaultValue 30000 */
  handlerTimeoutMs?: number;
  /** Retries in place after a failed attempt, before the event leaves for the ladder. @defaultValue 2 */
  inPlaceRetries?: number;
  /** First backoff between attempts in place, in ms; then 5× per retry (100, 500, ...), jittered. @defaultValue 100 */
  retryBackoffMs?: number;
  /** Longest backoff between attempts in place, in ms. @defaultValue 5000 */
  retryBackoffMaxMs?: number;
  /**
   * Delays of the retry tiers `<topic>.<group>.retry.<n>`, in ms. `[]` turns the ladder off: after the
   * attempts in place the event is dead-lettered. @defaultValue [1000, 10000, 60000, 600000]
   */
  retryTiersMs?: number[];
  /** Extra delay on a tier as a fraction of its delay, drawn from [0, jitter]. @defaultValue 0.1 */
  retryJitter?: number;
  /** Attempts over every visit, the first included. @defaultValue (1 + inPlaceRetries) × (1 + tiers) */
  maxAttempts?: number;
  /** Errors this returns false for go straight to the DLT (`non-retryable`). @defaultValue every error retries */
  isRetryable?: (error: unknown) => boolean;
  /**
   * When a parked key's head is dead-lettered: `'release'` goes on with its successors; `'hold'` sends them
   * after it to the DLT (`predecessor-dead-lettered`) until an operator releases the key. @defaultValue `'release'`
   */
  onDeadLetter?: 'release' | 'hold';
  /** Durable key-parking state; required for ordered retries through the ladder (and for delay levels). */
  parkingStore?: ParkingStore;
  /**
   * Check intervals of the delay levels `<topic>.<group>.delay.<n>`, in ms, increasing (docs/scheduling.md,
   * "Delayed events"). A delayed event (`orderly-deliver-at`) due within the first interval plus 5 s is held in
   * memory until due; a later one waits on the highest level that fits, its key parked behind it. `[]`: no
   * levels, every delayed event is held in memory until due, however far (never early, but it holds memory
   * and its partition's commits). Suggested: [10000, 300000, 7200000]. @defaultValue []
   */
  delayLevelsMs?: number[];
  /** Where `producer.cancel` cancellations are kept; without one, cancel records are logged and ignored. */
  cancellationStore?: CancellationStore;
  /** How often completed offsets are committed, in ms. @defaultValue 1000 */
  commitIntervalMs?: number;
  /**
   * Records fetched and not completed in a partition at which it pauses. The default scales with `concurrency`,
   * so that one partition alone keeps every handler slot busy while it waits for its next fetch: when every
   * partition is paused, the Kafka client waits its fetch wait (100 ms) before it fetches again, and 16 handler
   * durations of work stay queued below the low mark. The byte marks are the memory bound.
   * @defaultValue max(1000, 32 × concurrency): 2048 at the default concurrency of 64
   */
  partitionHighWatermarkRecords?: number;
  /** ... and at which it resumes. @defaultValue half the high mark */
  partitionLowWatermarkRecords?: number;
  /** Bytes (keys and values) held for a partition at which it pauses. @defaultValue 16 MiB */
  partitionHighWatermarkBytes?: number;
  /** @defaultValue half the high mark: 8 MiB */
  partitionLowWatermarkBytes?: number;
  /** Records held by the whole member at which every partition pauses. @defaultValue max(20000, 64 × concurrency) */
  memberHighWatermarkRecords?: number;
  /** @defaultValue half the high mark */
  memberLowWatermarkRecords?: number;
  /** Bytes held by the whole member at which every partition pauses. @defaultValue 128 MiB */
  memberHighWatermarkBytes?: number;
  /** @defaultValue half the high mark: 64 MiB */
  memberLowWatermarkBytes?: number;
  /** Event-loop delay (the worst in each 500 ms) above which fetching pauses; 0 turns it off. @defaultValue 1000 ms */
  maxEventLoopDelayMs?: number;
  /** Load shedding: events older than this (from `orderly-occurred-at`) go to the DLT as `expired`. @defaultValue off */
  maxEventAgeMs?: number;
  /** Where to start when the group has no committed offset. @defaultValue `'earliest'` */
  startFrom?: 'earliest' | 'latest';
  /** Dedupes redelivered events; without one, a redelivered event is handled again. */
  idempotencyStore?: IdempotencyStore;
  /**
   * The claim lease, in ms: must outlive the longest time a claim goes unrenewed, 2 × handlerTimeoutMs (an attempt,
   * then a wait for it to settle) + the longest backoff between in-place retries. Source records about to start
   * are claimed ahead (at most max(16, `concurrency`) unused at once, half of that per store call); the lease
   * counts from that claim, and a record that starts with less than that worst case (+1 s) of its lease left, or
   * whose claim call failed, claims again with the same token. Claims never used (a rebalance, a restart of the
   * Kafka client, a stop) are released, and this consumer takes over its own unreleased ones. A record whose
   * event another holder still leases (a dead member) waits for it loudly: `consumer.claim.waiting`, a warning.
   * @defaultValue that worst case + 10000
   */
  leaseMs?: number;
  /**
   * How long the group waits for a member it hears nothing from (SIGKILL, a frozen VM) before its partitions move;
   * for a static member (`groupInstanceId`), also how long a successor with the same id has to take its place
   * without a rebalance. @defaultValue 30000 ms
   */
  sessionTimeoutMs?: number;
  /** @defaultValue 3000 ms */
  heartbeatIntervalMs?: number;
  /**
   * Static group membership (Kafka's `group.instance.id`, KIP-345): a process that starts with the id of a member
   * that died (or stopped) takes its place and gets its partitions as soon as it joins, with no rebalance of the
   * other members, provided it joins within `sessionTimeoutMs`. Give each member slot its own stable id (a
   * StatefulSet pod name, `orders-worker-3`); two live members with one id fence each other: the older one is
   * fenced by the broker and stops (`whenStopped()` rejects with `INSTANCE_FENCED`). Kafka's rules: at most 249
   * letters, digits, ".", "_" or "-". See docs/deployment.md, "Static membership". @defaultValue none (a dynamic member)
   */
  groupInstanceId?: string;
  /**
   * Only with `groupInstanceId`: whether `stop()` leaves the group. `false` (Kafka's behaviour for static members):
   * the member's partitions wait for a successor with its id, with no rebalance, or move when its session times
   * out. `true`: they move at once, as for a dynamic member (scaling down, a member stopped for good). A crash or
   * stall restart of the Kafka client never leaves (the new client takes the old one's place). @defaultValue false
   */
  leaveGroupOnStop?: boolean;
  /** How long `stop()` waits for handlers in flight, in ms; it returns within this plus a second or two. @defaultValue 30000 */
  shutdownTimeoutMs?: number;
  /**
   * A partition whose watermark (the first record not completed) has not moved for this long while records
   * wait is reported: a warning log line with the offset and the reason it waits, the event
   * `consumer.partition.stalled` and the gauge `orderly_partition_watermark_stalled`. In ms. @defaultValue 120000
   */
  stuckPartitionMs?: number;
  /**
   * A record batch that cannot be decoded (a corrupt compressed payload, a codec id no client knows): `false`
   * stops its partition there and reports it (log, metric, `/readyz`) until an operator sets this; `true` writes
   * a stub with the batch's coordinates to the DLT (reason `undecodable-batch`) and moves past it. @defaultValue false
   */
  skipUndecodableBatches?: boolean;
  /**
   * After the Kafka client's consumer crashed on an error it does not retry: `true` restarts it with a backoff
   * (1 s, doubling up to 30 s); `false` stops the member, and `whenStopped()` rejects with the error. A crash on a
   * retriable error is restarted by the Kafka client itself either way. @defaultValue true
   */
  restartOnCrash?: boolean;
  /**
   * The Kafka client's consumer loop fetches every `maxWaitTime` (100 ms), paused partitions or not. When it has
   * neither fetched nor joined its group for this long without crashing, it is stalled: an error log line, the
   * event `consumer.client.stalled`, `orderly_client_stalls_total`, `/readyz` failing, and the client stopped and
   * started again as after a crash (see `restartOnCrash`). So is a run of commits refused because they went to a
   * group coordinator that is no longer one, for half this time (at most 30 s): the Kafka client keeps the
   * coordinator of its last join for commits, and only a new join finds the current one. Must exceed the rebalance timeout (the larger of
   * `sessionTimeoutMs` and `shutdownTimeoutMs`), the longest a join may legitimately take. In ms.
   * @defaultValue the larger of 60000 and twice the rebalance timeout
   */
  clientStallTimeoutMs?: number;
  /** A pino logger; silent by default. */
  logger?: Logger;
}

const positiveInt = z.number().int().positive();

const optionsSchema = z
  .object({
    groupId: z.string().min(1, 'must name the consumer group').regex(/^[A-Za-z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-" (it is part of the retry and DLT topic names)'),
    topics: z.array(z.string().min(1)).default([]),
    lanes: z
      .array(z.object({ topic: z.string().min(1), priority: z.enum(['high', 'normal', 'low']).default('normal'), concurrency: positiveInt.optional() }))
      .default([]),
    priorityBacklogRecords: positiveInt.default(100),
    handler: z.custom<EventHandler<unknown>>((value) => typeof value === 'function', 'must be an async function (event, context) => Promise<void>'),
    producer: z.custom<EmitProducer>((value) => typeof (value as EmitProducer | undefined)?.publish === 'function', 'must be an EventProducer (it publishes what context.emit emits)').optional(),
    transactional: z.boolean().default(false),
    isolationLevel: z.enum(['read_committed', 'read_uncommitted']).default('read_committed'),
    ordering: z.enum(orderings).default('key'),
    concurrency: positiveInt.max(100_000).default(64),
    handlerTimeoutMs: positiveInt.default(30_000),
    inPlaceRetries: z.number().int().min(0).max(20).default(2),
    retryTiersMs: z.array(positiveInt).max(20).default([1_000, 10_000, 60_000, 600_000]),
    retryJitter: z.number().min(0).max(1).default(0.1),
    delayLevelsMs: z.array(positiveInt.min(1_000, 'must be at least 1000 ms')).max(10).default([]),
    maxAttempts: positiveInt.max(10_000).optional(),
    onDeadLetter: z.enum(['release', 'hold']).default('release'),
    retryBackoffMs: positiveInt.default(100),
    retryBackoffMaxMs: positiveInt.default(5_000),
    commitIntervalMs: positiveInt.default(1_000),
    partitionHighWatermarkRecords: positiveInt.optional(),
    partitionLowWatermarkRecords: z.number().int().min(0).optional(),
    partitionHighWatermarkBytes: positiveInt.default(16 * 1024 * 1024),
    partitionLowWatermarkBytes: z.number().int().min(0).optional(),
    memberHighWatermarkRecords: positiveInt.optional(),
    memberLowWatermarkRecords: z.number().int().min(0).optional(),
    memberHighWatermarkBytes: positiveInt.default(128 * 1024 * 1024),
    memberLowWatermarkBytes: z.number().int().min(0).optional(),
    maxEventLoopDelayMs: z.number().int().min(0).default(1_000),
    maxEventAgeMs: positiveInt.optional(),
    startFrom: z.enum(['earliest', 'latest']).default('earliest'),
    leaseMs: positiveInt.optional(),
    sessionTimeoutMs: positiveInt.default(30_000),
    heartbeatIntervalMs: positiveInt.default(3_000),
    groupInstanceId: z
      .string()
      .min(1, 'must not be empty')
      .max(249, 'must be at most 249 characters (Kafka\'s limit)')
      .regex(/^[A-Za-z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-" (Kafka\'s rule for group.instance.id)')
      .refine((id) => id !== '.' && id !== '..', 'must not be "." or ".."')
      .optional(),
    leaveGroupOnStop: z.boolean().optional(),
    shutdownTimeoutMs: positiveInt.default(30_000),
    stuckPartitionMs: positiveInt.default(120_000),
    skipUndecodableBatches: z.boolean().default(false),
    restartOnCrash: z.boolean().default(true),
    clientStallTimeoutMs: positiveInt.optional(),
  })
  .superRefine((options, context) => {
    if (options.transactional && typeof (options.producer as { encodeBatch?: unknown } | undefined)?.encodeBatch !== 'function') {
      context.addIssue({ code: 'custom', path: ['producer'], message: 'transactional: true needs `producer`, an EventProducer: it encodes the emits, and the consumer writes them in its transactions' });
    }
    if (options.topics.length === 0 && options.lanes.length === 0) {
      context.addIssue({ code: 'custom', path: ['topics'], message: 'name at least one source topic (topics: [...] or lanes: [{ topic }])' });
    }
    const defaults = defaultRecordWatermarks(options.concurrency);
    for (const [high, low, highValue] of [
      ['partitionHighWatermarkRecords', 'partitionLowWatermarkRecords', options.partitionHighWatermarkRecords ?? defaults.partitionHigh],
      ['partitionHighWatermarkBytes', 'partitionLowWatermarkBytes', options.partitionHighWatermarkBytes],
      ['memberHighWatermarkRecords', 'memberLowWatermarkRecords', options.memberHighWatermarkRecords ?? defaults.memberHigh],
      ['memberHighWatermarkBytes', 'memberLowWatermarkBytes', options.memberHighWatermarkBytes],
    ] as const) {
      const lowValue = options[low];
      if (lowValue !== undefined && lowValue >= highValue) {
        context.addIssue({ code: 'custom', path: [low], message: `(${lowValue}) must be below ${high} (${highValue}), or the partition would flap between paused and resumed` });
      }
    }
    if (options.retryTiersMs.some((delay, index) => index > 0 && delay < options.retryTiersMs[index - 1]!)) {
      context.addIssue({ code: 'custom', path: ['retryTiersMs'], message: `(${options.retryTiersMs.join(', ')}) must not decrease from one tier to the next` });
    }
    if (options.delayLevelsMs.some((interval, index) => index > 0 && interval <= options.delayLevelsMs[index - 1]!)) {
      context.addIssue({ code: 'custom', path: ['delayLevelsMs'], message: `(${options.delayLevelsMs.join(', ')}) must increase from one level to the next` });
    }
    if (options.heartbeatIntervalMs * 3 > options.sessionTimeoutMs) {
      context.addIssue({
        code: 'custom',
        path: ['heartbeatIntervalMs'],
        message: `(${options.heartbeatIntervalMs}) must be at most a third of sessionTimeoutMs (${options.sessionTimeoutMs}); set it to about sessionTimeoutMs / 3`,
      });
    }
    if (options.leaveGroupOnStop !== undefined && options.groupInstanceId === undefined) {
      context.addIssue({ code: 'custom', path: ['leaveGroupOnStop'], message: 'applies to a static member only: set groupInstanceId too, or leave it unset (a dynamic member always leaves on stop)' });
    }
    const rebalanceTimeoutMs = Math.max(options.sessionTimeoutMs, options.shutdownTimeoutMs);
    if (options.clientStallTimeoutMs !== undefined && options.clientStallTimeoutMs <= rebalanceTimeoutMs) {
      context.addIssue({
        code: 'custom',
        path: ['clientStallTimeoutMs'],
        message: `(${options.clientStallTimeoutMs}) must be longer than the rebalance timeout, ${rebalanceTimeoutMs} ms (the larger of sessionTimeoutMs and shutdownTimeoutMs): a join may take that long`,
      });
    }
    const worstCase = claimWorstCaseMs(options);
    if (options.leaseMs !== undefined && options.leaseMs <= worstCase) {
      context.addIssue({
        code: 'custom',
        path: ['leaseMs'],
        message: `(${options.leaseMs}) must be longer than the longest time a claim goes unrenewed, ${worstCase} ms (an attempt of handlerTimeoutMs, the longest backoff before an in-place retry, and a wait of up to handlerTimeoutMs for a timed-out attempt to settle), or a slow event loses its claim`,
      });
    }
  });

/**
 * The longest a claim goes unrenewed: it is taken (or renewed before an in-place retry), then an attempt may
 * run `handlerTimeoutMs`, the backoff before the next attempt may wait its longest delay (see
 * handler-attempts.ts: `retryBackoffMs` × 5^(n-1), at most `retryBackoffMaxMs`), and that attempt may first wait
 * up to `handlerTimeoutMs` for the timed-out one to settle. The default lease adds 10 s for store round trips.
 */
export function claimWorstCaseMs(options: { handlerTimeoutMs: number; inPlaceRetries: number; retryBackoffMs: number; retryBackoffMaxMs: number }): number {
  const longestBackoffMs = options.inPlaceRetries === 0 ? 0 : Math.min(options.retryBackoffMaxMs, options.retryBackoffMs * 5 ** (Math.min(options.inPlaceRetries, 20) - 1));
  return 2 * options.handlerTimeoutMs + longestBackoffMs;
}

/**
 * The default record watermarks, scaled with `concurrency`. A partition that pauses is fetched again no sooner
 * than the client's fetch wait, so the records still queued at its low mark (16 × concurrency, 16 handler
 * durations of work) must outlast that wait, or the handler slots go idle. The byte watermarks bound memory.
 */
export function defaultRecordWatermarks(concurrency: number): { partitionHigh: number; memberHigh: number } {
  return { partitionHigh: Math.max(1_000, 32 * concurrency), memberHigh: Math.max(20_000, 64 * concurrency) };
}

type LowWatermarks = 'partitionLowWatermarkRecords' | 'partitionLowWatermarkBytes' | 'memberLowWatermarkRecords' | 'memberLowWatermarkBytes';
type RecordWatermarks = 'partitionHighWatermarkRecords' | 'memberHighWatermarkRecords';

export type ValidOrderedConsumerOptions<T> = Omit<z.output<typeof optionsSchema>, 'handler' | 'leaseMs' | 'maxAttempts' | 'clientStallTimeoutMs' | 'leaveGroupOnStop' | LowWatermarks | RecordWatermarks> &
  Record<LowWatermarks | RecordWatermarks, number> &
  Pick<OrderedConsumerOptions<T>, 'kafka' | 'decoder' | 'idempotencyStore' | 'logger' | 'isRetryable' | 'parkingStore' | 'cancellationStore' | 'producer'> & {
    handler: EventHandler<T>;
    leaseMs: number;
    maxAttempts: number;
    clientStallTimeoutMs: number;
    leaveGroupOnStop: boolean;
  };

export function validateOrderedConsumerOptions<T>(options: OrderedConsumerOptions<T>): ValidOrderedConsumerOptions<T> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigurationError(parsed.error.issues.map((issue) => `consumer.${issue.path.join('.')}: ${issue.message}`));
  }
  const valid = parsed.data;
  const defaults = defaultRecordWatermarks(valid.concurrency);
  const partitionHighWatermarkRecords = valid.partitionHighWatermarkRecords ?? defaults.partitionHigh;
  const memberHighWatermarkRecords = valid.memberHighWatermarkRecords ?? defaults.memberHigh;
  if (valid.retryTiersMs.length > 0 && valid.ordering !== 'none' && !options.parkingStore) {
    throw new ConfigurationError([
      'consumer.parkingStore: ordered retries through the ladder need a durable parking store: pass `parkingStore: new RedisParkingStore({ redis, groupId })`, or set `retryTiersMs: []` to retry in place only',
    ]);
  }
  if (valid.delayLevelsMs.length > 0 && valid.ordering !== 'none' && !options.parkingStore) {
    throw new ConfigurationError([
      'consumer.parkingStore: delay levels keep a key\'s order by parking it behind its delayed event: pass `parkingStore: new RedisParkingStore({ redis, groupId })`, or set `delayLevelsMs: []`',
    ]);
  }
  return {
    ...valid,
    handler: options.handler,
    kafka: options.kafka,
    decoder: options.decoder,
    idempotencyStore: options.idempotencyStore,
    logger: options.logger,
    isRetryable: options.isRetryable,
    parkingStore: options.parkingStore,
    cancellationStore: options.cancellationStore,
    producer: options.producer,
    maxAttempts: valid.maxAttempts ?? (1 + valid.inPlaceRetries) * (1 + valid.retryTiersMs.length),
    topics: [...new Set([...valid.topics, ...valid.lanes.map((lane) => lane.topic)])],
    partitionHighWatermarkRecords,
    memberHighWatermarkRecords,
    partitionLowWatermarkRecords: valid.partitionLowWatermarkRecords ?? Math.floor(partitionHighWatermarkRecords / 2),
    partitionLowWatermarkBytes: valid.partitionLowWatermarkBytes ?? Math.floor(valid.partitionHighWatermarkBytes / 2),
    memberLowWatermarkRecords: valid.memberLowWatermarkRecords ?? Math.floor(memberHighWatermarkRecords / 2),
    memberLowWatermarkBytes: valid.memberLowWatermarkBytes ?? Math.floor(valid.memberHighWatermarkBytes / 2),
    leaseMs: valid.leaseMs ?? claimWorstCaseMs(valid) + 10_000,
    leaveGroupOnStop: valid.leaveGroupOnStop ?? false,
    clientStallTimeoutMs: valid.clientStallTimeoutMs ?? Math.max(60_000, 2 * Math.max(valid.sessionTimeoutMs, valid.shutdownTimeoutMs)),
  };
}
