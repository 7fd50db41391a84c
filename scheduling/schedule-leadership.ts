/**
 * Who runs a schedule: the member of the group `orderly-cron.<name>` that holds partition 0 of the schedule
 * topic. Every instance of the schedule joins that group; the broker's group coordinator gives the one
 * partition to one member per generation, and takes it away when the member stops heartbeating
 * (`sessionTimeoutMs`) or leaves. The group only elects: fencing is done by the transactional publisher
 * (fenced-tick-publisher.ts), so two members that both believe they lead (a frozen one that has not yet seen
 * the new generation) can never both write.
 *
 * The leader reads the schedule topic from its beginning on every assignment (no offsets are ever committed),
 * keeping the latest slot published for its schedule and the claims it has seen.
 */
import type { Consumer, Kafka } from '../core/kafka-client.ts';
import { parseScheduleRecord } from './schedule-records.ts';

export interface LeadershipListener {
  /** Partition 0 was assigned to this member (a new generation); `generation` counts this member's assignments. */
  assigned(generation: number): void;
  /** A rebalance started, or the assignment went elsewhere: stop publishing. */
  revoked(): void;
  /** The group consumer crashed and will not restart itself. */
  crashed(error: Error): void;
}

const claimsKept = 64;

export function leadershipGroupOf(schedule: string): string {
  return `orderly-cron.${schedule}`;
}

export class ScheduleLeadership {
  readonly #consumer: Consumer;
  readonly #schedule: string;
  readonly #topic: string;
  #generation = 0;
  #holding = false;
  #lastSlotMs: number | undefined;
  readonly #claimsSeen = new Set<string>();
  readonly #claimWaiters = new Map<string, () => void>();

  constructor(kafka: Kafka, options: { schedule: string; scheduleTopic: string; sessionTimeoutMs: number; heartbeatIntervalMs: number }, listener: LeadershipListener) {
    this.#schedule = options.schedule;
    this.#topic = options.scheduleTopic;
    this.#consumer = kafka.consumer({
      groupId: leadershipGroupOf(options.schedule),
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, 10_000),
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: 200,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, REBALANCING, CRASH } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, ({ payload }) => {
      const holds = (payload.memberAssignment[this.#topic] ?? []).includes(0);
      this.#holding = holds;
      if (holds) listener.assigned(++this.#generation);
      else listener.revoked();
    });
    this.#consumer.on(REBALANCING, () => {
      if (this.#holding) listener.revoked();
      this.#holding = false;
    });
    this.#consumer.on(CRASH, ({ payload }) => {
      this.#holding = false;
      listener.revoked();
      if (!payload.restart) listener.crashed(payload.error);
    });
  }

  /** Joins the group and starts reading the schedule topic whenever partition 0 is this member's. */
  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [this.#topic], fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const record = parseScheduleRecord(message.value);
          if (!record || record.schedule !== this.#schedule) continue;
          if (record.kind === 'state') {
            const slot = Date.parse(record.lastSlot);
            if (this.#lastSlotMs === undefined || slot > this.#lastSlotMs) this.#lastSlotMs = slot;
          } else {
            // The latest claims only (a claim is awaited right after it is written): bounded however long the process runs.
            this.#claimsSeen.add(record.nonce);
            if (this.#claimsSeen.size > claimsKept) this.#claimsSeen.delete(this.#claimsSeen.values().next().value!);
            this.#claimWaiters.get(record.nonce)?.();
          }
        }
      },
    });
  }

  /** True while this member holds partition 0 in the generation it last joined. */
  holding(): boolean {
    return this.#holding;
  }

  generation(): number {
    return this.#generation;
  }

  /** The latest slot published for the schedule among the records read so far. */
  lastSlotMs(): number | undefined {
    return this.#lastSlotMs;
  }

  /** Resolves once the record of the claim `nonce` was read (every earlier record too); rejects after `timeoutMs`. */
  waitForClaim(nonce: string, timeoutMs: number, abort: AbortSignal): Promise<void> {
    if (this.#claimsSeen.has(nonce)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        abort.removeEventListener('abort', onAbort);
        this.#claimWaiters.delete(nonce);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => done(new Error('leadership lost while reading the schedule topic'));
      const timer = setTimeout(() => done(new Error(`did not read its own claim on ${this.#topic} within ${timeoutMs} ms`)), timeoutMs);
      abort.addEventListener('abort', onAbort, { once: true });
      this.#claimWaiters.set(nonce, () => done());
    });
  }

  async stop(): Promise<void> {
    this.#holding = false;
    await this.#consumer.disconnect();
  }
}
