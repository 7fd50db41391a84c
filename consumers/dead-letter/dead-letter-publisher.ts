/**
 * Publishes a forward (to a retry tier or the DLT) until the broker acknowledges it, the one place that does.
 *
 * - Byte for byte: the record's key, value, partition and headers (in order, any names) plus the forward's
 *   own headers, acks=all through an idempotent producer.
 * - An ambiguous failure (a timeout, a lost connection: the broker may have written the batch) replaces the
 *   producer before the next try. kafkajs rolls its sequence numbers back after any failed send, so the same
 *   producer could reuse one and have a later, different record acknowledged as a duplicate and never written;
 *   a new producer has a new producer id and starts its own sequence.
 * - A rejection that can never succeed (the record too large with our headers, an invalid record or topic, a
 *   header that cannot be encoded) is not retried: the record goes to the DLT in reduced form, as
 *   `forward-rejected`: first its own key and value with only the forward's headers and its envelope, then, if
 *   that is rejected too, a stub with no value that names the original coordinates. If even the stub is
 *   rejected, the partition stops at this record, loudly: an error log line, `consumer.forward.stuck` (a
 *   metric, and `/readyz` fails) and a try again every `stuckRetryMs`.
 */
import { headerNames, headersOf, readRawHeader, type RecordHeader } from '../../core/headers.ts';
import type { Logger } from '../../core/logger.ts';
import type { Producer } from '../../core/kafka-client.ts';
import type { ConsumedRecord } from '../consumed-record.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import { backoffDelayMs } from '../retries/backoff.ts';
import { describe } from '../retries/failure-router.ts';
import { forwardedHeaderList, forwardHeaderValues, type ForwardFailure, type RecordOrigin } from './dead-letter-headers.ts';

/** Sends one forward; the publisher retries it. */
export interface RecordForwarder {
  /** Resolves once the broker acknowledged (acks=all); `headers` replaces the record's own when given. */
  forward(topic: string, record: ConsumedRecord, failure: ForwardFailure, origin: RecordOrigin, form?: ReducedForm): Promise<void>;
}

/** How much of a rejected record the DLT gets. */
export type ReducedForm = 'headers-dropped' | 'stub';

export type PublishResult = { kind: 'sent' } | { kind: 'reduced'; form: ReducedForm };

/** Broker error types that no retry can fix. */
const rejectedTypes = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TOPIC_EXCEPTION', 'INVALID_REQUIRED_ACKS', 'INVALID_TIMESTAMP', 'UNSUPPORTED_FOR_MESSAGE_FORMAT', 'TOPIC_AUTHORIZATION_FAILED']);

/** Whether a failed send can never succeed: a broker rejection of the record, or an error encoding it. */
export function isForwardRejected(error: unknown): boolean {
  let sawKafka = false;
  for (let cause = error, depth = 0; cause && depth < 6; depth++) {
    const { type, name, errors } = cause as { type?: unknown; name?: unknown; errors?: unknown };
    if (typeof type === 'string' && rejectedTypes.has(type)) return true;
    if (Array.isArray(errors) && errors.some((inner) => isForwardRejected(inner))) return true;
    if (typeof name === 'string' && name.startsWith('KafkaJS')) sawKafka = true;
    cause = (cause as { cause?: unknown; originalError?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError;
  }
  // Not from the client's protocol layer at all: a TypeError or RangeError encoding the record.
  return !sawKafka && (error instanceof TypeError || error instanceof RangeError);
}

export interface ProducerForwarderOptions {
  createProducer: () => Producer;
  groupId: string;
  logger: Logger;
}

/** Forwards through an idempotent producer it owns, and replaces that producer after an ambiguous failure. */
export class ProducerForwarder implements RecordForwarder {
  private readonly options: ProducerForwarderOptions;
  private producer: Producer;
  private connecting: Promise<void> | undefined;
  private retired: Producer[] = [];

  constructor(options: ProducerForwarderOptions) {
    this.options = options;
    this.producer = options.createProducer();
  }

  async connect(): Promise<void> {
    await this.connected(this.producer);
  }

  async disconnect(): Promise<void> {
    const all = [this.producer, ...this.retired];
    this.retired = [];
    await Promise.allSettled(all.map((producer) => producer.disconnect()));
  }

  /** Replaces `used` (when it is still the current producer): the next forward gets a new producer id. */
  private replace(used: Producer): void {
    if (used !== this.producer) return; // replaced already, after another forward's failure
    const old = this.producer;
    this.producer = this.options.createProducer();
    this.connecting = undefined;
    this.retired.push(old);
    void old.disconnect().then(
      () => (this.retired = this.retired.filter((producer) => producer !== old)),
      () => undefined,
    );
    this.options.logger.warn({ groupId: this.options.groupId }, 'forward failed ambiguously; the forwarder continues with a new producer (new producer id)');
  }

  async forward(topic: string, record: ConsumedRecord, failure: ForwardFailure, origin: RecordOrigin, form?: ReducedForm): Promise<void> {
    const producer = this.producer;
    const stub = form === 'stub';
    try {
      await this.connected(producer);
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition: record.partition, key: stub && (record.key?.length ?? 0) > 1_024 ? null : record.key, value: stub ? null : record.value, headers: headersOf(headersFor(record, this.options.groupId, failure, origin, form)) }],
      });
    } catch (error) {
      // Ambiguous (the broker may have written it): never send again with this producer's sequence numbers.
      if (!isForwardRejected(error)) this.replace(producer);
      throw error;
    }
  }

  private connected(producer: Producer): Promise<void> {
    if (producer !== this.producer) return producer.connect();
    this.connecting ??= producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }
}

/** The envelope headers a reduced record keeps, so it can still be found and replayed by its event id. */
const keptByReducedForm = [headerNames.eventId, headerNames.eventType, headerNames.occurredAt];

/** A forward's headers: the record's own and the forward's, or in reduced form the forward's and the envelope only. */
export function headersFor(record: ConsumedRecord, groupId: string, failure: ForwardFailure, origin: RecordOrigin, form?: ReducedForm): RecordHeader[] {
  if (!form) return forwardedHeaderList(record, groupId, failure, origin);
  const list: RecordHeader[] = [];
  for (const name of keptByReducedForm) {
    const value = readRawHeader(record.rawHeaders, name);
    if (value !== undefined && value.length <= 256) list.push({ name: Buffer.from(name), value: Buffer.from(value) });
  }
  const added = forwardHeaderValues(groupId, { ...failure, error: failure.error, reason: 'forward-rejected' }, origin);
  for (const [name, value] of Object.entries(added)) list.push({ name: Buffer.from(name), value: Buffer.from(value) });
  list.push({ name: Buffer.from(headerNames.reducedForm), value: Buffer.from(form) });
  return list;
}

/** What the publisher needs of its caller for one record. */
export interface PublishContext {
  /** Waits `ms`; rejects when the record is abandoned (partition revoked, consumer stopping). */
  pause(ms: number): Promise<void>;
  /** Fields for log lines (never the payload). */
  logFields: Record<string, unknown>;
}

export interface DeadLetterPublisherDeps {
  forwarder: RecordForwarder;
  events: ConsumerEventEmitter;
  logger: Logger;
  /** The DLT of a source topic. */
  deadLetterTopicOf(sourceTopic: string): string;
  /** Between tries of a stuck partition's stub. @defaultValue 30000 ms */
  stuckRetryMs?: number;
}

export class DeadLetterPublisher {
  private readonly deps: DeadLetterPublisherDeps;

  constructor(deps: DeadLetterPublisherDeps) {
    this.deps = deps;
  }

  /**
   * Publishes `record` to `topic` until acknowledged, or, when the broker can never take it, its reduced form
   * to the DLT (`{ kind: 'reduced' }`: the record left by the DLT as `forward-rejected`, whatever `topic` was).
   */
  async publish(topic: string, record: ConsumedRecord, failure: ForwardFailure, origin: RecordOrigin, context: PublishContext): Promise<PublishResult> {
    const { forwarder, events, logger } = this.deps;
    const ref = { topic: record.topic, partition: record.partition, offset: record.offset };
    let form: ReducedForm | undefined;
    let target = topic;
    let firstRejection: unknown;
    let stuck = false;
    for (let attempt = 1; ; attempt++) {
      try {
        await forwarder.forward(target, record, form ? { ...failure, error: firstRejection } : failure, origin, form);
        if (stuck) events.emit('consumer.forward.recovered', ref);
        return form ? { kind: 'reduced', form } : { kind: 'sent' };
      } catch (error) {
        const errorType = errorTypeOf(error);
        events.emit('consumer.forward.failed', { ...ref, errorType });
        if (isForwardRejected(error)) {
          firstRejection ??= error;
          if (form !== 'stub') {
            form = form === undefined ? 'headers-dropped' : 'stub';
            target = this.deps.deadLetterTopicOf(origin.topic);
            logger.error({ ...context.logFields, attempt, err: { type: errorType, message: describe(error) }, reducedForm: form }, `forward to ${topic} rejected by the broker; sending the record to the DLT in reduced form (${form})`);
            continue;
          }
          if (!stuck) {
            stuck = true;
            events.emit('consumer.forward.stuck', { ...ref, errorType });
          }
          logger.error({ ...context.logFields, attempt, err: { type: errorType, message: describe(error) } }, `even the DLT stub for this record was rejected by ${target}; the partition stops here until an operator fixes the topic`);
          await context.pause(this.deps.stuckRetryMs ?? 30_000);
          continue;
        }
        logger.error({ ...context.logFields, attempt, err: { type: errorType, message: describe(error) } }, `forward to ${target} failed; the partition waits at this record`);
        await context.pause(backoffDelayMs(attempt, { baseMs: 500, maxMs: 30_000 }));
      }
    }
  }
}

function errorTypeOf(error: unknown): string {
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === 'string') return type;
  return error instanceof Error ? error.name : typeof error;
}
