/**
 * Publishes keyed events as Avro in the Confluent wire format, with the envelope headers, through an
 * idempotent kafkajs producer with acks=all. `publish` resolves once the broker acknowledged. The number of
 * events accepted and not yet acknowledged is bounded (`maxInFlight`): at the bound a publish waits, or
 * throws a {@link BackpressureError} with `onFull: 'reject'`. Nothing is ever buffered without bound. An
 * optional token bucket (`rateLimit`) caps the rate: it is taken before the in-flight bound, in order.
 *
 * Order and failure: a batch goes out chunk after chunk and stops at the first chunk that fails, reporting in a
 * {@link PublishBatchError} which events were written and which were not (ids assigned before sending, so a
 * retry keeps them). Per key, a send waits for the earlier sends of its key and is not sent when one of them
 * failed ({@link KeyOrderGate}): kafkajs could otherwise write a later event of a key before a retried earlier
 * one. `close()` rejects every publish still waiting for tokens or room, waits for the ones sent (for at most
 * `timeoutMs` when given: then it rejects them as unconfirmed), then disconnects; nothing connects after it.
 */
import { compressionIdOf } from '../core/compression/compression.ts';
import { OrderlyError } from '../core/errors.ts';
import { isUnknownTopicError, type IHeaders, type Message, type Producer, type RecordMetadata } from '../core/kafka-client.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { AvroEncoder } from '../schemas/avro-encoder.ts';
import { avroType, fullNameOf, type Type } from '../schemas/avro-type.ts';
import { subjectName } from '../schemas/subject-name-strategy.ts';
import { envelopeToHeaders } from './envelope-headers.ts';
import { sendBatchCompletely, trackingPartitioner } from '../core/complete-send.ts';
import { newEventId } from './event-id.ts';
import { InFlightLimiter } from './in-flight-limiter.ts';
import { KeyOrderGate, type GateTicket } from './key-order-gate.ts';
import { validateEventProducerOptions, type EventProducerOptions, type ValidEventProducerOptions } from './options.ts';
import { BackpressureError, MissingKeyError, PublishBatchError, RateLimitError } from './producer-errors.ts';
import { TokenBucket } from './token-bucket.ts';
import { traceContextOf } from './trace-parent.ts';

export type { CancelRequest, DeliveryOptions, EncodedOutgoingEvent, EncodedRecord, OutgoingEvent, PublishedEvent } from './outgoing-event.ts';
import type { CancelRequest, DeliveryOptions, EncodedOutgoingEvent, EncodedRecord, OutgoingEvent, PublishedEvent } from './outgoing-event.ts';
import { cancelRecordOf, deliveryHeaders, deliveryTimeOf } from './delivery-time.ts';

interface PreparedEvent {
  event: OutgoingEvent;
  /** The value already in the wire format (an {@link EncodedOutgoingEvent}): sent as it is. */
  encoded?: Buffer;
  topic: string;
  eventId: string;
  occurredAt: Date;
  headers: IHeaders;
  /** Topic and key, as the key order gate knows them. */
  orderKey: string;
}

const printableAscii = /^[ -~]*$/;

/** The same string for a key given as text or as its UTF-8 bytes, per topic. */
function orderKeyOf(topic: string, key: string | Buffer): string {
  const bytes = typeof key === 'string' ? (printableAscii.test(key) ? key : Buffer.from(key, 'utf8').toString('latin1')) : key.toString('latin1');
  return `${topic}\u0000${bytes}`;
}

/** What a batch has got to, for close() to report when its deadline abandons it. */
interface BatchProgress {
  written: PublishedEvent[];
  /** The events not acknowledged yet, in order. */
  rest: readonly PreparedEvent[];
  /** How many of `rest` are being sent (may have been written). */
  sending: number;
}

/** Options of {@link EventProducer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for publishes already sent. After it, each is rejected with a {@link PublishBatchError}
   * whose `unconfirmed` events may or may not have been written (retry them with their ids), and the producer
   * disconnects without waiting further. @defaultValue no deadline: wait for every acknowledgement
   */
  timeoutMs?: number;
}

function stoppedError(): OrderlyError {
  return new OrderlyError('STOPPED', 'the producer was closed before this publish was sent: nothing of it was written');
}

export class EventProducer {
  readonly #options: ValidEventProducerOptions;
  readonly #producer: Producer;
  readonly #encoder: AvroEncoder;
  readonly #limiter: InFlightLimiter;
  readonly #rate: TokenBucket | undefined;
  readonly #logger: Logger;
  /** The partition kafkajs's DefaultPartitioner chose for each message, to report offsets per event. */
  readonly #partitioner = trackingPartitioner();
  readonly #partitionOf = this.#partitioner.partitionOf;
  readonly #gate = new KeyOrderGate();
  /** Aborted by close(): publishes waiting for tokens or room give up. */
  readonly #closing = new AbortController();
  /** Every accepted publish that has not settled; close() waits for them. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Rejects one accepted publish at once (close()'s deadline), reporting its progress. */
  readonly #abandon = new Map<Promise<unknown>, (cause: unknown) => void>();
  #connected: Promise<void> | undefined;
  #closed = false;

  constructor(options: EventProducerOptions) {
    this.#options = validateEventProducerOptions(options);
    this.#logger = componentLogger(this.#options.logger ?? createLogger(), 'producer');
    this.#encoder = new AvroEncoder({ registry: this.#options.registry, autoRegister: this.#options.autoRegister });
    this.#limiter = new InFlightLimiter(this.#options.maxInFlight);
    const { rateLimit } = this.#options;
    this.#rate = rateLimit && new TokenBucket({ ratePerSecond: rateLimit.eventsPerSecond, burst: rateLimit.burst });
    this.#producer = this.#options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: this.#options.maxInFlightRequests,
      allowAutoTopicCreation: false,
      createPartitioner: this.#partitioner.createPartitioner,
    });
  }

  /** Events accepted and not yet acknowledged. */
  get inFlight(): number {
    return this.#limiter.inFlight;
  }

  /** Connects (publish connects on first use too). */
  connect(): Promise<void> {
    if (this.#closed && !this.#connected) return Promise.reject(new OrderlyError('STOPPED', 'the producer is closed: create a new one'));
    this.#connected ??= this.#producer.connect().catch((error: unknown) => {
      this.#connected = undefined;
      // Refused credentials stay refused (not retriable); a broker out of reach may come back.
      const retriable = !(error instanceof OrderlyError) || error.retriable;
      throw new OrderlyError('KAFKA', `the producer could not connect: ${(error as Error).message}`, { cause: error, retriable });
    });
    return this.#connected;
  }

  /**
   * Publishes one event; resolves once the broker acknowledged it (acks=all). On failure it throws the cause
   * (a batch of one is written or not), with `unconfirmed`: 1 when the event was sent and not acknowledged (the
   * broker may have written it), 0 when it was certainly not written. To retry with the same id, give the event
   * an `eventId`.
   *
   * Cost of per-key order: a publish waits for every earlier publish of the same key (on this producer) to be
   * acknowledged before it is sent, so one key's events go out one request at a time, at most one per broker
   * round trip (about 1 / acknowledgement latency per key); different keys are not held back. Publish a key's
   * events together with {@link EventProducer.publishBatch} to send them in one request.
   */
  async publish<V>(event: OutgoingEvent<V>, delivery?: DeliveryOptions): Promise<PublishedEvent> {
    try {
      const [published] = await this.publishBatch([delivery ? { ...event, ...delivery } : event]);
      return published as PublishedEvent;
    } catch (error) {
      if (!(error instanceof PublishBatchError)) throw error;
      const cause: unknown = error.cause;
      if (!(cause instanceof Error)) throw error;
      if (!('unconfirmed' in cause)) Object.defineProperty(cause, 'unconfirmed', { value: error.unconfirmed, enumerable: true });
      throw cause;
    }
  }

  /**
   * Publishes events in as few produce requests as the bound allows (chunks of at most `maxInFlight`), in
   * order, one chunk after the other. A missing key anywhere refuses the whole batch before anything is sent.
   * With `onFull: 'reject'`, a batch that does not fit in the free room is refused whole. A chunk that fails
   * stops the batch: a {@link PublishBatchError} lists the events written and the ones not written.
   */
  publishBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<PublishedEvent[]> {
    return this.#start(() => events.map((event) => this.#prepare(event)));
  }

  /**
   * Cancels a delayed event before its due time: publishes a cancel record (no value, header `orderly-cancels`)
   * with the event's key, so it lands on the event's partition after it. A consumer with a `cancellationStore`
   * records the cancellation as soon as it reads it and skips the event when it comes due. Too late (the event
   * was handled already) it changes nothing. Resolves once the broker acknowledged the cancel record.
   */
  async cancel(request: CancelRequest): Promise<PublishedEvent> {
    const topic = request.topic ?? this.#options.topic;
    if (!topic) throw new OrderlyError('CONFIGURATION', 'the cancel names no topic and the producer has no topic option');
    const [published] = await this.publishEncodedBatch([cancelRecordOf({ ...request, topic })]);
    return published as PublishedEvent;
  }

  /**
   * Publishes events whose values are already encoded (the transactional outbox's rows: encoded and checked
   * against the registry when they were written), with the ids, types and times they carry. Order, bounds and
   * failures as {@link EventProducer.publishBatch}; a {@link PublishBatchError}'s `notWritten` holds these
   * events as given.
   */
  publishEncodedBatch(events: readonly EncodedOutgoingEvent[]): Promise<PublishedEvent[]> {
    return this.#start(() => events.map((event) => this.#prepareEncoded(event)));
  }

  /**
   * Encodes events exactly as {@link publishBatch} would write them (id, envelope headers, the value in the wire
   * format, its schema looked up or registered), without sending them: for a caller that writes them itself,
   * as the consumer's Kafka transactions do (`transactional: true`). A missing key or a value its schema refuses
   * throws as `publishBatch` does; nothing counts against `maxInFlight` or the rate limit.
   */
  async encodeBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<EncodedRecord[]> {
    if (this.#closed) throw new OrderlyError('STOPPED', 'the producer is closed: create a new one');
    const prepared = events.map((event) => this.#prepare(event));
    const messages = await this.#encode(prepared);
    return prepared.map(({ topic, eventId }, index) => {
      const { key, value, headers } = messages[index]!;
      return { topic, eventId, key: key!, value: value as Buffer, headers: headers! };
    });
  }

  #start<V>(prepare: () => PreparedEvent[]): Promise<PublishedEvent[]> {
    if (this.#closed) return Promise.reject(new OrderlyError('STOPPED', 'the producer is closed: create a new one'));
    let work: Promise<PublishedEvent[]>;
    let progress: BatchProgress;
    try {
      const prepared = prepare();
      progress = { written: [], rest: prepared, sending: 0 };
      work = this.#publishBatch(prepared, progress);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const result = new Promise<PublishedEvent[]>((resolve, reject) => {
      work.then(resolve, reject);
      this.#abandon.set(work, (cause) => reject(new PublishBatchError(progress.written, notWritten<V>(progress.rest), progress.sending, cause)));
    });
    this.#pending.add(work);
    const forget = () => {
      this.#pending.delete(work);
      this.#abandon.delete(work);
    };
    work.then(forget, forget);
    return result;
  }

  /**
   * Refuses new publishes, rejects the ones waiting for tokens or room, waits for the ones sent, then
   * disconnects. With `timeoutMs`, waits for the ones sent that long at most: then rejects them (unconfirmed:
   * they may or may not be written) and disconnects without waiting further.
   */
  async close({ timeoutMs }: CloseOptions = {}): Promise<void> {
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) throw new RangeError(`close({ timeoutMs }) must be a number of ms >= 0, not ${timeoutMs}`);
    this.#closed = true;
    this.#closing.abort(stoppedError());
    const drained = (async () => {
      while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      await this.#limiter.idle();
      if (this.#connected) await this.#connected.catch(() => undefined);
    })();
    if (timeoutMs === undefined) {
      await drained;
      await this.#producer.disconnect();
      return;
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const passed = new Promise<true>((resolve) => deadline.signal.addEventListener('abort', () => resolve(true), { once: true }));
    try {
      if ((await Promise.race([drained.then(() => false), passed])) === true) {
        const cause = new OrderlyError('STOPPED', `the producer was closed: its ${timeoutMs} ms deadline passed before the broker acknowledged this publish, which may or may not have been written. Retry it with the same eventId`, { retriable: true });
        this.#logger.warn({ abandoned: this.#abandon.size, timeoutMs }, 'close deadline passed: unacknowledged publishes rejected as unconfirmed');
        for (const abandon of [...this.#abandon.values()]) abandon(cause);
        this.#abandon.clear();
      }
      // Still bounded: a disconnect that hangs (a broker out of reach) is given up at the deadline as well.
      await Promise.race([this.#producer.disconnect().catch((error: unknown) => this.#logger.warn({ err: error }, 'disconnect failed after close deadline')), passed]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #publishBatch(prepared: PreparedEvent[], progress: BatchProgress): Promise<PublishedEvent[]> {
    if (prepared.length === 0) return [];
    const { maxInFlight, onFull, rateLimit } = this.#options;
    const rate = this.#rate;
    const signal = this.#closing.signal;
    if (rate && rateLimit?.onLimit === 'reject' && !rate.tryTake(prepared.length)) throw new RateLimitError(prepared.length, rate.available, rate.ratePerSecond);
    const waitForTokens = rate !== undefined && rateLimit?.onLimit === 'wait';
    if (onFull === 'reject') {
      if (waitForTokens) await takeTokens(rate, prepared.length, signal).catch((error: unknown) => Promise.reject(new PublishBatchError([], notWritten(prepared), 0, error)));
      if (!this.#limiter.tryAcquire(prepared.length)) throw new BackpressureError(prepared.length, this.#limiter.inFlight, maxInFlight);
      progress.sending = prepared.length;
      return this.#sendAndRelease(prepared).catch((error: unknown) => Promise.reject(batchError([], prepared, prepared.length, error)));
    }
    const chunkSize = waitForTokens ? Math.min(maxInFlight, rate.burst) : maxInFlight;
    const written = progress.written;
    for (let start = 0; start < prepared.length; start += chunkSize) {
      progress.rest = prepared.slice(start);
      const chunk = prepared.slice(start, start + chunkSize);
      try {
        if (waitForTokens) await rate.take(chunk.length, signal);
        await this.#limiter.acquire(chunk.length, signal);
      } catch (error) {
        throw new PublishBatchError(written, notWritten(prepared.slice(start)), 0, error);
      }
      try {
        progress.sending = chunk.length;
        written.push(...(await this.#sendAndRelease(chunk)));
        progress.sending = 0;
      } catch (error) {
        throw batchError(written, prepared.slice(start), chunk.length, error);
      }
    }
    return written;
  }

  #prepare(given: OutgoingEvent): PreparedEvent {
    // A delay becomes a due time once, here: a retry of a failed publish keeps it (see notWritten).
    const event = given.delayMs === undefined ? given : { ...given, deliverAt: deliveryTimeOf(given), delayMs: undefined };
    const topic = event.topic ?? this.#options.topic;
    if (!topic) throw new OrderlyError('CONFIGURATION', 'the event names no topic and the producer has no topic option');
    const key = event.key as unknown;
    if (key === undefined || key === null || (typeof key !== 'string' && !Buffer.isBuffer(key)) || key.length === 0) {
      throw new MissingKeyError({ topic });
    }
    const eventId = event.eventId ?? newEventId();
    const occurredAt = event.occurredAt ?? new Date();
    const headers = envelopeToHeaders(
      {
        eventId,
        eventType: event.type ?? fullNameOf(avroType(event.schema)),
        occurredAt: occurredAt.toISOString(),
        ...traceContextOf(event),
      },
      deliveryHeaders(event, event.headers),
    );
    return { event, topic, eventId, occurredAt, headers, orderKey: orderKeyOf(topic, event.key) };
  }

  #prepareEncoded(event: EncodedOutgoingEvent): PreparedEvent {
    const { topic, eventId, occurredAt, traceparent, tracestate } = event;
    const key = event.key as unknown;
    if (key === undefined || key === null || (typeof key !== 'string' && !Buffer.isBuffer(key)) || key.length === 0) throw new MissingKeyError({ topic });
    if (!Buffer.isBuffer(event.value)) throw new OrderlyError('ENCODE', `an encoded event for topic ${topic} has no encoded value (a Buffer in the wire format)`);
    const trace = traceparent === undefined ? {} : tracestate === undefined ? { traceparent } : { traceparent, tracestate };
    const headers = envelopeToHeaders({ eventId, eventType: event.type, occurredAt: occurredAt.toISOString(), ...trace }, event.headers);
    return { event: event as unknown as OutgoingEvent, encoded: event.value, topic, eventId, occurredAt, headers, orderKey: orderKeyOf(topic, event.key) };
  }

  /** Sends a chunk that holds its room; registered with the key order gate at once, in the order accepted. */
  async #sendAndRelease(chunk: PreparedEvent[]): Promise<PublishedEvent[]> {
    const ticket = this.#gate.enter(chunk.map((prepared) => prepared.orderKey));
    const progress = { sent: false };
    let acknowledged = false;
    try {
      const published = await this.#send(chunk, ticket, progress);
      acknowledged = true;
      return published;
    } catch (error) {
      // Failed before reaching the broker (registry, encoding, connect): certainly not written.
      throw progress.sent || error instanceof NotSentError ? error : new NotSentError(error);
    } finally {
      ticket.done(acknowledged);
      this.#limiter.release(chunk.length);
    }
  }

  /** The messages of a chunk, in order: values encoded (the registry asked once per subject and schema), headers set. */
  async #encode(chunk: readonly PreparedEvent[]): Promise<Message[]> {
    // One registry answer (cached after the first) per subject and schema of the chunk, not one await per event.
    const schemaIds = new Map<string, Promise<number>>();
    const typeNumbers = new Map<Type, number>();
    const targets = chunk.map(({ event, topic, encoded }) => {
      if (encoded) return undefined;
      const type = avroType(event.schema);
      const subject = subjectName(this.#options.subjectNameStrategy, topic, fullNameOf(type));
      if (!typeNumbers.has(type)) typeNumbers.set(type, typeNumbers.size);
      const idKey = `${subject}\u0000${typeNumbers.get(type)}`;
      if (!schemaIds.has(idKey)) schemaIds.set(idKey, this.#encoder.schemaId(subject, type, { strategy: this.#options.subjectNameStrategy, topic }));
      return { type, idKey };
    });
    const ids = new Map<string, number>();
    for (const [idKey, id] of schemaIds) ids.set(idKey, await id);
    return chunk.map(({ event, headers, encoded }, index) => {
      const target = targets[index];
      const value = encoded ?? this.#encoder.frame(ids.get(target!.idKey)!, target!.type, event.value);
      return { key: event.key, value, headers };
    });
  }

  async #send(chunk: PreparedEvent[], ticket: GateTicket, progress: { sent: boolean }): Promise<PublishedEvent[]> {
    const messages = await this.#encode(chunk);
    const messagesByTopic = new Map<string, Message[]>();
    chunk.forEach(({ topic }, index) => {
      let list = messagesByTopic.get(topic);
      if (!list) messagesByTopic.set(topic, (list = []));
      list.push(messages[index]!);
    });
    if (!(await ticket.earlier)) {
      const { topic } = chunk[0]!;
      throw new NotSentError(new OrderlyError('KAFKA', `not sent: an earlier publish of the same key to ${topic} failed, and sending this one would put it ahead. Retry the failed events first, then these, in order`, { retriable: true, context: { topic } }));
    }
    await this.connect();
    let results: RecordMetadata[];
    progress.sent = true;
    try {
      // Never a success for a partition that got no acknowledgement (kafkajs across a leader change: core/complete-send.ts).
      results = await sendBatchCompletely(
        this.#producer,
        {
          topicMessages: [...messagesByTopic].map(([topic, topicMessages]) => ({ topic, messages: topicMessages })),
          acks: -1,
          timeout: this.#options.ackTimeoutMs,
          compression: compressionIdOf[this.#options.compression],
        },
        {
          partitionOf: this.#partitionOf,
          onResend: (missing) => this.#logger.warn({ missing, status: 'resending' }, 'the broker acknowledged no write to some partitions (leader change): sending those again'),
        },
      );
    } catch (error) {
      this.#logger.warn({ err: error, topic: chunk[0]?.topic, status: 'failed' }, 'publish failed');
      if (isUnknownTopicError(error)) {
        const topics = [...messagesByTopic.keys()].join(', ');
        throw new OrderlyError('KAFKA', `publishing ${chunk.length} event(s) failed: topic ${topics} does not exist (or has no leader). Orderly never auto-creates topics: create it with \`orderly topics create\``, { cause: error, retriable: true });
      }
      throw new OrderlyError('KAFKA', `publishing ${chunk.length} event(s) failed: ${(error as Error).message}`, { cause: error, retriable: true });
    }
    return this.#published(chunk, messages, results);
  }

  /** Offsets per event: within one partition of one request, messages take consecutive offsets in order. */
  #published(chunk: PreparedEvent[], messages: Message[], results: RecordMetadata[]): PublishedEvent[] {
    const next = new Map<string, bigint>();
    for (const result of results) next.set(`${result.topicName}\u0000${result.partition}`, BigInt(result.baseOffset ?? '-1'));
    return chunk.map(({ topic, eventId }, index) => {
      const partition = this.#partitionOf.get(messages[index] as object) ?? -1;
      const slot = `${topic}\u0000${partition}`;
      const offset = next.get(slot) ?? -1n;
      next.set(slot, offset + 1n);
      return { eventId, topic, partition, offset: offset.toString() };
    });
  }
}

/** Takes `count` tokens in pieces of at most the bucket's burst. */
async function takeTokens(rate: TokenBucket, count: number, signal: AbortSignal): Promise<void> {
  for (let left = count; left > 0; left -= rate.burst) await rate.take(Math.min(left, rate.burst), signal);
}

/** The events of a failed batch as a retry sends them: with the ids and times they were sent with. */
function notWritten<V>(prepared: readonly PreparedEvent[]): OutgoingEvent<V>[] {
  return prepared.map(({ event, eventId, occurredAt }) => ({ ...(event as OutgoingEvent<V>), eventId, occurredAt }));
}

/** The error of a batch that stopped: `sent` of `rest` went out unacknowledged, unless they were never sent. */
function batchError<V>(written: PublishedEvent[], rest: readonly PreparedEvent[], sent: number, error: unknown): PublishBatchError<V> {
  if (error instanceof NotSentError) return new PublishBatchError(written, notWritten<V>(rest), 0, error.cause);
  return new PublishBatchError(written, notWritten<V>(rest), sent, error);
}

/** A chunk that was never sent (an earlier send of one of its keys failed, or it failed before reaching the broker); `cause` says why. */
class NotSentError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
