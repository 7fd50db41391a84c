/**
 * Publishing under fencing: one Kafka transactional producer per schedule, `transactional.id` =
 * `orderly-cron.<name>`, the same on every instance. The broker lets one producer epoch write under a
 * transactional id: a new leader's first transaction (its claim) bumps the epoch, aborts whatever transaction
 * the previous leader left open, and makes the broker reject every later write or commit of the previous
 * leader (`INVALID_PRODUCER_EPOCH` / `PRODUCER_FENCED`). The check happens at the broker, at publish time, so a
 * leader frozen (SIGSTOP) in the middle of a publish cannot get its tick onto the topic after its successor
 * started: readers with `read_committed` (the Orderly consumer's default) never see it.
 *
 * Each tick (or each batch of catch-up ticks) and the schedule's new state record go in one transaction: both
 * are on the log, or neither.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka, type Producer } from '../core/kafka-client.ts';
import { claimMessage, stateMessage, type ScheduleClaim } from './schedule-records.ts';
import { tickEventId, tickMessage } from './tick-event.ts';

export interface ScheduleIdentity {
  name: string;
  expression: string;
  timezone: string;
  topic: string;
  scheduleTopic: string;
  instance: string;
}

/** The transactional id of a schedule's publisher: one per schedule, shared by its instances. */
export function transactionalIdOf(schedule: string): string {
  return `orderly-cron.${schedule}`;
}

/** True for the broker's refusal of a fenced producer (an older epoch of the transactional id). */
export function isFencedError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 6; cause = (cause as { cause?: unknown; originalError?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError, depth++) {
    const { type, code } = cause as { type?: unknown; code?: unknown };
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || code === 47 || code === 90) return true;
  }
  return false;
}

/** Ticks written in an open transaction, not visible until committed. */
export interface PreparedTicks {
  /** Commits; resolves with the commit time. Rejects (fenced, or failed) and aborts when the broker refuses it. */
  commit(): Promise<number>;
  /** Aborts; never rejects. */
  abort(): Promise<void>;
}

export class FencedTickPublisher {
  readonly #kafka: Kafka;
  readonly #identity: ScheduleIdentity;
  readonly #transactionTimeoutMs: number;
  #producer: Producer | undefined;

  constructor(kafka: Kafka, identity: ScheduleIdentity, transactionTimeoutMs: number) {
    this.#kafka = kafka;
    this.#identity = identity;
    this.#transactionTimeoutMs = transactionTimeoutMs;
  }

  /**
   * Takes the schedule over: a fresh producer whose first transaction fences every earlier producer of the
   * schedule and writes the claim. Returns the claim's nonce, to read the schedule topic up to.
   */
  async claim(now: number): Promise<string> {
    await this.close();
    const producer = this.#kafka.producer({
      transactionalId: transactionalIdOf(this.#identity.name),
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.#transactionTimeoutMs,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    this.#producer = producer;
    await producer.connect();
    const nonce = randomUUID();
    const { name: schedule, instance, expression, timezone, topic, scheduleTopic } = this.#identity;
    const claim: Omit<ScheduleClaim, 'kind'> = { schedule, instance, nonce, claimedAt: new Date(now).toISOString(), expression, timezone, topic };
    const transaction = await producer.transaction();
    try {
      await transaction.send({ topic: scheduleTopic, messages: [claimMessage(claim)] });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    return nonce;
  }

  /**
   * Publishes the ticks of `slots` (oldest first: a catch-up publishes many at once) and the state saying the
   * last of them is the last slot, in one transaction. Resolves with the commit time.
   */
  async publish(slots: readonly number[], now: () => number): Promise<number> {
    return (await this.prepare(slots, now)).commit();
  }

  /**
   * Writes the ticks of `slots` and the new state in a transaction left open: nothing of it is visible to a
   * read_committed reader until `commit()`. The leader prepares the next slot's tick ahead of its time and commits
   * at the slot, so that only the commit is left to do after the slot.
   */
  async prepare(slots: readonly number[], now: () => number): Promise<PreparedTicks> {
    const producer = this.#producer;
    if (!producer) throw new Error('publish before claim');
    const last = slots.at(-1);
    if (last === undefined) throw new Error('nothing to publish');
    const { name, expression, timezone, topic, scheduleTopic, instance } = this.#identity;
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({
        topicMessages: [
          { topic, messages: slots.map((slot) => tickMessage({ name, expression, timezone }, slot)) },
          {
            topic: scheduleTopic,
            messages: [stateMessage({ schedule: name, lastSlot: new Date(last).toISOString(), lastEventId: tickEventId(name, last), expression, timezone, topic, instance })],
          },
        ],
      });
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    return {
      commit: async () => {
        try {
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
        return now();
      },
      abort: () => transaction.abort().catch(() => undefined),
    };
  }

  /** Disconnects the producer (an open transaction is aborted by the broker at its timeout or by the next claim). */
  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer) await producer.disconnect().catch(() => undefined);
  }
}
