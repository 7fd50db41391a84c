/**
 * Publishes keyed events as Avro in the Confluent wire format, with the envelope headers, through an
 * idempotent kafkajs producer with acks=all. `publish` resolves once the broker acknowledged. The number of
 * events accepted and not yet acknowledged is bounded (`maxInFlight`): at the bound a publish waits, or
 * throws a {@link BackpressureError} with `onFull: 'reject'`. Nothing is ever buffered without bound. An
 * optional token bucket (`rateLimit`) caps the rate: it is taken before the in-flight bound, in order.
 */
import { compressionIdOf } from '../core/compression/compression.ts';
import { OrderlyError } from '../core/errors.ts';
import { isUnknownTopicError, Partitioners, type IHeaders, type Message, type Producer, type RecordMetadata } from '../core/kafka-client.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { AvroEncoder } from '../schemas/avro-encoder.ts';
import { avroType, fullNameOf, type AvroSchemaInput, type Type } from '../schemas/avro-type.ts';
import { subjectName } from '../schemas/subject-name-strategy.ts';
import { envelopeToHeaders } from './envelope-headers.ts';
import { newEventId } from './event-id.ts';
import { InFlightLimiter } from './in-flight-limiter.ts';
import { validateEventProducerOptions, type EventProducerOptions, type ValidEventProducerOptions } from './options.ts';
import { BackpressureError, MissingKeyError, RateLimitError } from './producer-errors.ts';
import { TokenBucket } from './token-bucket.ts';
import { activeTraceparent } from './trace-parent.ts';

export interface OutgoingEvent<V = unknown> {
  /** @defaultValue the producer's `topic` option */
  topic?: string;
  /** The entity id (account id, order id): required, never empty. Kafka partitions by it (murmur2). */
  key: string | Buffer;
  /** The Avro schema of the value: an avsc Type, a schema object or `.avsc` text (parsed once per object). */
  schema: AvroSchemaInput;
  value: V;
  /** @defaultValue the full name of the schema's record */
  type?: string;
  /** @defaultValue a new UUIDv7 */
  eventId?: string;
  /** @defaultValue now */
  occurredAt?: Date;
  /** Extra headers; they cannot replace an envelope header. */
  headers?: Record<string, string | Buffer>;
}

export interface PublishedEvent {
  eventId: string;
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a string. */
  offset: string;
}

interface PreparedEvent {
  event: OutgoingEvent;
  topic: string;
  eventId: string;
  headers: IHeaders;
}

export class EventProducer {
  readonly #options: ValidEventProducerOptions;
  readonly #producer: Producer;
  readonly #encoder: AvroEncoder;
  readonly #limiter: InFlightLimiter;
  readonly #rate: TokenBucket | undefined;
  readonly #logger: Logger;
  /** The partition kafkajs's DefaultPartitioner chose for each message, to report offsets per event. */
  readonly #partitionOf = new WeakMap<object, number>();
  #connected: Promise<void> | undefined;
  #closed = false;

  constructor(options: EventProducerOptions) {
    this.#options = validateEventProducerOptions(options);
    this.#logger = componentLogger(this.#options.logger ?? createLogger(), 'producer');
    this.#encoder = new AvroEncoder({ registry: this.#options.registry, autoRegister: this.#options.autoRegister });
    this.#limiter = new InFlightLimiter(this.#options.maxInFlight);
    const { rateLimit } = this.#options;
    this.#rate = rateLimit && new TokenBucket({ ratePerSecond: rateLimit.eventsPerSecond, burst: rateLimit.burst });
    const partitionOf = this.#partitionOf;
    this.#producer = this.#options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: this.#options.maxInFlightRequests,
      allowAutoTopicCreation: false,
      createPartitioner: () => {
        const partitioner = Partitioners.DefaultPartitioner();
        return (args) => {
          const partition = partitioner(args);
          partitionOf.set(args.message, partition);
          return partition;
        };
      },
    });
  }

  /** Events accepted and not yet acknowledged. */
  get inFlight(): number {
    return this.#limiter.inFlight;
  }

  /** Connects (publish connects on first use too). */
  connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((error: unknown) => {
      this.#connected = undefined;
      // Refused credentials stay refused (not retriable); a broker out of reach may come back.
      const retriable = !(error instanceof OrderlyError) || error.retriable;
      throw new OrderlyError('KAFKA', `the producer could not connect: ${(error as Error).message}`, { cause: error, retriable });
    });
    return this.#connected;
  }

  /** Publishes one event; resolves once the broker acknowledged it (acks=all). */
  async publish<V>(event: OutgoingEvent<V>): Promise<PublishedEvent> {
    const [published] = await this.publishBatch([event]);
    return published as PublishedEvent;
  }

  /**
   * Publishes events in as few produce requests as the bound allows (chunks of at most `maxInFlight`), in
   * order. A missing key anywhere refuses the whole batch before anything is sent. With `onFull: 'reject'`,
   * a batch that does not fit in the free room is refused whole.
   */
  async publishBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<PublishedEvent[]> {
    if (this.#closed) throw new OrderlyError('STOPPED', 'the producer is closed: create a new one');
    const prepared = events.map((event) => this.#prepare(event));
    if (prepared.length === 0) return [];
    const { maxInFlight, onFull, rateLimit } = this.#options;
    const rate = this.#rate;
    if (rate && rateLimit?.onLimit === 'reject' && !rate.tryTake(prepared.length)) throw new RateLimitError(prepared.length, rate.available, rate.ratePerSecond);
    const waitForTokens = rate !== undefined && rateLimit?.onLimit === 'wait';
    if (onFull === 'reject') {
      if (waitForTokens) await takeTokens(rate, prepared.length);
      if (!this.#limiter.tryAcquire(prepared.length)) throw new BackpressureError(prepared.length, this.#limiter.inFlight, maxInFlight);
      return this.#sendAndRelease(prepared);
    }
    const chunkSize = waitForTokens ? Math.min(maxInFlight, rate.burst) : maxInFlight;
    const sends: Promise<PublishedEvent[]>[] = [];
    for (let start = 0; start < prepared.length; start += chunkSize) {
      const chunk = prepared.slice(start, start + chunkSize);
      if (waitForTokens) await rate.take(chunk.length);
      await this.#limiter.acquire(chunk.length);
      const send = this.#sendAndRelease(chunk);
      send.catch(() => undefined); // awaited below with the others
      sends.push(send);
    }
    return (await Promise.all(sends)).flat();
  }

  /** Refuses new publishes, waits for every event in flight, then disconnects. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#limiter.idle();
    if (this.#connected) await this.#connected.catch(() => undefined);
    await this.#producer.disconnect();
  }

  #prepare(event: OutgoingEvent): PreparedEvent {
    const topic = event.topic ?? this.#options.topic;
    if (!topic) throw new OrderlyError('CONFIGURATION', 'the event names no topic and the producer has no topic option');
    const key = event.key as unknown;
    if (key === undefined || key === null || (typeof key !== 'string' && !Buffer.isBuffer(key)) || key.length === 0) {
      throw new MissingKeyError({ topic });
    }
    const eventId = event.eventId ?? newEventId();
    const traceparent = activeTraceparent();
    const headers = envelopeToHeaders(
      {
        eventId,
        eventType: event.type ?? fullNameOf(avroType(event.schema)),
        occurredAt: (event.occurredAt ?? new Date()).toISOString(),
        ...(traceparent === undefined ? {} : { traceparent }),
      },
      event.headers,
    );
    return { event, topic, eventId, headers };
  }

  async #sendAndRelease(chunk: PreparedEvent[]): Promise<PublishedEvent[]> {
    try {
      return await this.#send(chunk);
    } finally {
      this.#limiter.release(chunk.length);
    }
  }

  async #send(chunk: PreparedEvent[]): Promise<PublishedEvent[]> {
    // One registry answer (cached after the first) per subject and schema of the chunk, not one await per event.
    const schemaIds = new Map<string, Promise<number>>();
    const typeNumbers = new Map<Type, number>();
    const targets = chunk.map(({ event, topic }) => {
      const type = avroType(event.schema);
      const subject = subjectName(this.#options.subjectNameStrategy, topic, fullNameOf(type));
      if (!typeNumbers.has(type)) typeNumbers.set(type, typeNumbers.size);
      const idKey = `${subject}\u0000${typeNumbers.get(type)}`;
      if (!schemaIds.has(idKey)) schemaIds.set(idKey, this.#encoder.schemaId(subject, type));
      return { type, idKey };
    });
    const ids = new Map<string, number>();
    for (const [idKey, id] of schemaIds) ids.set(idKey, await id);
    const messagesByTopic = new Map<string, Message[]>();
    const messages: Message[] = [];
    chunk.forEach(({ event, topic, headers }, index) => {
      const { type, idKey } = targets[index]!;
      const message: Message = { key: event.key, value: this.#encoder.frame(ids.get(idKey)!, type, event.value), headers };
      messages.push(message);
      let list = messagesByTopic.get(topic);
      if (!list) messagesByTopic.set(topic, (list = []));
      list.push(message);
    });
    await this.connect();
    let results: RecordMetadata[];
    try {
      results = await this.#producer.sendBatch({
        topicMessages: [...messagesByTopic].map(([topic, topicMessages]) => ({ topic, messages: topicMessages })),
        acks: -1,
        timeout: this.#options.ackTimeoutMs,
        compression: compressionIdOf[this.#options.compression],
      });
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
async function takeTokens(rate: TokenBucket, count: number): Promise<void> {
  for (let left = count; left > 0; left -= rate.burst) await rate.take(Math.min(left, rate.burst));
}
