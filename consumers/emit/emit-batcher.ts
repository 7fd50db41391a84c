/**
 * The emits of every handler of a consumer, sent together. `EventProducer` keeps one produce request in flight
 * per broker (idempotent, in order), so one `publish` per emit sends one event per round trip: about 2,000
 * emits/s on the local stack, whatever the concurrency. Here the emits made while a batch is on its way are
 * gathered and go out as the next batch (`publishBatch`: one request for many events), as a database commits a
 * group: a lone emit waits one event-loop turn, a busy consumer fills batches.
 *
 * A batch that fails resolves the events it wrote and rejects the others with the cause. A batch refused
 * because one of its events is malformed (no key, a value its schema refuses) would fail every handler in it:
 * its events not written are then sent one by one, so only the malformed one fails. A batch across topics that
 * fails otherwise (one topic does not exist, or has no leader) is sent again per topic, so only that topic's
 * emits fail.
 *
 * Trace context: a batch goes out on a later turn, in whatever context was active then (the first emitter's),
 * so each emit's own trace context (its handler's consumer span) is captured when it is made and sent with it.
 */
import type { OutgoingEvent, PublishedEvent } from '../../producers/outgoing-event.ts';
import { OrderlyError } from '../../core/errors.ts';
import { withTraceContext } from '../../producers/trace-parent.ts';
import type { EmitProducer } from './attempt-emits.ts';

/** A producer that can also send many events in one request (`EventProducer`). */
export interface BatchingEmitProducer extends EmitProducer {
  publishBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<PublishedEvent[]>;
}

interface Waiting {
  event: OutgoingEvent<unknown>;
  resolve: (published: PublishedEvent) => void;
  reject: (error: unknown) => void;
}

/** Codes of a batch refused for one malformed event. */
const malformed: ReadonlySet<string> = new Set(['MISSING_KEY', 'ENCODE', 'CONFIGURATION']);

/** At most this many events per batch (the producer splits them into requests of its own size anyway). */
export const maxEmitBatchEvents = 500;

export class EmitBatcher implements EmitProducer {
  readonly #producer: BatchingEmitProducer;
  #queue: Waiting[] = [];
  #sending = false;
  #scheduled = false;

  constructor(producer: BatchingEmitProducer) {
    this.#producer = producer;
  }

  /** Whether `producer` can send batches: otherwise emits go one `publish` each. */
  static canBatch(producer: EmitProducer): producer is BatchingEmitProducer {
    return typeof (producer as Partial<BatchingEmitProducer>).publishBatch === 'function';
  }

  publish<V>(event: OutgoingEvent<V>): Promise<PublishedEvent> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ event: withTraceContext(event as OutgoingEvent<unknown>), resolve, reject });
      if (!this.#sending && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#sendNext();
        });
      }
    });
  }

  #sendNext(): void {
    if (this.#sending || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, maxEmitBatchEvents);
    this.#sending = true;
    this.#producer
      .publishBatch(batch.map((waiting) => waiting.event))
      .then(
        (published) => batch.forEach((waiting, index) => waiting.resolve(published[index]!)),
        (error: unknown) => this.#failed(batch, error),
      )
      .finally(() => {
        this.#sending = false;
        this.#sendNext();
      });
  }

  #failed(batch: readonly Waiting[], error: unknown): void {
    const written = new Map(((error as { written?: PublishedEvent[] }).written ?? []).map((published) => [published.eventId, published]));
    const cause = (error as { cause?: unknown }).cause ?? error;
    const rest: Waiting[] = [];
    for (const waiting of batch) {
      const published = waiting.event.eventId === undefined ? undefined : written.get(waiting.event.eventId);
      if (published) waiting.resolve(published);
      else rest.push(waiting);
    }
    if (rest.length > 1 && cause instanceof OrderlyError && malformed.has(cause.code)) {
      for (const waiting of rest) this.#producer.publish(waiting.event).then(waiting.resolve, waiting.reject);
      return;
    }
    const byTopic = new Map<string | undefined, Waiting[]>();
    for (const waiting of rest) {
      const group = byTopic.get(waiting.event.topic);
      if (group) group.push(waiting);
      else byTopic.set(waiting.event.topic, [waiting]);
    }
    if (byTopic.size > 1) {
      // One request failed for all its topics (a topic that does not exist, or has no leader): sent again per
      // topic, so only the emits of the failing topic fail, not every handler that emitted in the same turn.
      for (const group of byTopic.values()) {
        this.#producer.publishBatch(group.map((waiting) => waiting.event)).then(
          (published) => group.forEach((waiting, index) => waiting.resolve(published[index]!)),
          (groupError: unknown) => this.#failed(group, groupError),
        );
      }
      return;
    }
    for (const waiting of rest) waiting.reject(cause);
  }
}
