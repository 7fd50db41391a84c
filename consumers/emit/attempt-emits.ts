/**
 * `context.emit(topic, key, event)`: a handler publishes follow-up events (a chain of small steps) through the
 * consumer's `producer` (an `EventProducer`: idempotent, acks=all).
 *
 * - The source event completes only after every event its attempt emitted was acknowledged: the attempt's
 *   promise waits for them, even for an emit the handler did not await.
 * - An emitted event's id is derived, not drawn: UUIDv5 of (consumer group, source event id, index), the index
 *   counting the attempt's emits in call order from 0. A source handled again (a retry, a redelivery after a
 *   crash) emits the same ids, so an Orderly consumer downstream (idempotency store, inbox) sees duplicates
 *   and drops them. The group is in the name because two groups that consume one event and emit are two
 *   services: their follow-ups must not share ids. The emits must therefore come in the same order on every
 *   attempt (their calls, not their completions: `Promise.all` over a fixed list is fine).
 * - A failed emit fails the attempt (even when the handler caught the rejection): the retry ladder, then the
 *   DLT. A malformed event (no key, a value its schema refuses) fails as non-retryable.
 * - An emit after the attempt settled (a stray callback, whether or not the attempt emitted before) or after it
 *   timed out is refused: its source may already be committed, or its retry emitting under the same ids.
 *
 * Without `transactional`: between a crash and the retry, downstream may see an emitted event of an attempt that
 * then failed; the retry emits it again under the same id. Consumers that are not Orderly's must dedupe by
 * `orderly-event-id` themselves. With it (an {@link EmitEncoder} in the settings), an emit is encoded and kept
 * with its attempt, nothing is sent: the emits of the attempt that succeeds are written by the transaction that
 * commits its source's offset (consumers/transactions/), and a failed attempt's are dropped.
 */
import { v5 as uuidv5 } from 'uuid';
import { NonRetryableError, OrderlyError } from '../../core/errors.ts';
import type { EncodedRecord, OutgoingEvent, PublishedEvent } from '../../producers/outgoing-event.ts';

/** What `emit` needs of a producer: `EventProducer` is one. */
export interface EmitProducer {
  publish<V>(event: OutgoingEvent<V>): Promise<PublishedEvent>;
}

/** An event a handler emits: its schema and value (and optionally type, time, headers); the id is derived. */
export type EmittedEvent<V = unknown> = Omit<OutgoingEvent<V>, 'topic' | 'key' | 'eventId'>;

/** The UUIDv5 namespace of emitted event ids (a fixed random UUID: changing it changes every derived id). */
export const emittedEventIdNamespace = '4f1c2b8e-7d0a-4c55-9a3e-0b6f5e2d9c17';

/** The id of the `index`-th event emitted while group `groupId` handled `sourceEventId`. */
export function emittedEventId(groupId: string, sourceEventId: string, index: number): string {
  return uuidv5(`${groupId}\u0000${sourceEventId}\u0000${index}`, emittedEventIdNamespace);
}

/** Encodes an emit without sending it (`transactional: true`): the event as its transaction will write it. */
export interface EmitEncoder {
  encode<V>(event: OutgoingEvent<V> & { topic: string; eventId: string }): Promise<EncodedRecord>;
}

/** The emits of a consumer: its producer and group, or nothing when `producer` is not set. */
export interface EmitSettings {
  producer: EmitProducer | undefined;
  groupId: string;
  /** Set with `transactional: true`: emits are encoded and kept with their attempt, never sent from here. */
  encoder?: EmitEncoder;
}

/** Where an emit kept for a transaction is reported to the handler: written at the commit, so no partition or offset yet. */
const notWrittenYet = { partition: -1, offset: '-1' } as const;

const malformed: ReadonlySet<string> = new Set(['MISSING_KEY', 'ENCODE', 'CONFIGURATION']);

/** The emits of one attempt. */
export class AttemptEmits {
  readonly #producer: EmitProducer;
  readonly #encoder: EmitEncoder | undefined;
  readonly #groupId: string;
  readonly #sourceEventId: string;
  #index = 0;
  #pending: Promise<unknown>[] = [];
  #failure: { error: unknown } | undefined;
  #closed = false;
  /** With an encoder: the encoded emits, by index (call order). */
  readonly #kept: EncodedRecord[] = [];

  constructor(producer: EmitProducer, groupId: string, sourceEventId: string, encoder?: EmitEncoder) {
    this.#producer = producer;
    this.#encoder = encoder;
    this.#groupId = groupId;
    this.#sourceEventId = sourceEventId;
  }

  emit<V>(topic: string, key: string, event: EmittedEvent<V>): Promise<PublishedEvent> {
    const index = this.#index++;
    if (this.#closed) throw lateEmitError(topic, index);
    const eventId = emittedEventId(this.#groupId, this.#sourceEventId, index);
    const outgoing = { ...event, topic, key, eventId };
    const encoder = this.#encoder;
    const written: Promise<PublishedEvent> = encoder
      ? encoder.encode(outgoing).then((encoded) => {
          this.#kept[index] = encoded;
          return { eventId, topic, ...notWrittenYet };
        })
      : this.#producer.publish(outgoing);
    const sending = written.catch((error: unknown) => {
      const failure = error instanceof OrderlyError && malformed.has(error.code) ? new NonRetryableError(`emit ${index} to ${topic}: ${error.message}`, { cause: error }) : error;
      this.#failure ??= { error: failure };
      throw failure;
    });
    // Handled here as well, so an emit the handler does not await never becomes an unhandled rejection.
    this.#pending.push(sending.catch(() => undefined));
    return sending;
  }

  /** Waits for every emit of the attempt (emits started meanwhile too); throws the first failure. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0) await Promise.all(this.#pending.splice(0));
    this.#closed = true;
    if (this.#failure) throw this.#failure.error;
  }

  /** With an encoder, once {@link settled} resolved: the attempt's emits in call order, for its transaction. */
  kept(): EncodedRecord[] | undefined {
    return this.#encoder ? this.#kept.filter((record) => record !== undefined) : undefined;
  }
}

/** An emit after its attempt settled (or timed out): its source may be committed, so it is never sent. */
export function lateEmitError(topic: string, index?: number): OrderlyError {
  const which = index === undefined ? 'emit' : `emit ${index}`;
  return new OrderlyError('STOPPED', `${which} to ${topic.slice(0, 100)} came after its handler's attempt had settled: emit before the handler returns, and await it`);
}

/** `context.emit` of a consumer without a `producer`: a configuration error, thrown at the call. */
export function emitWithoutProducer(topic: string): never {
  throw new NonRetryableError(`context.emit(${JSON.stringify(topic.slice(0, 100))}, ...) needs the consumer option \`producer\` (an EventProducer)`);
}
