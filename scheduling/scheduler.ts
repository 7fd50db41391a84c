/**
 * The cron scheduler: for every slot of a schedule, exactly one tick on the tick topic, however many instances
 * run. One instance leads (it holds partition 0 of the schedule topic in the group `orderly-cron.<name>`, see
 * schedule-leadership.ts); on taking over it fences every earlier leader through its Kafka transactional id
 * and writes a claim (fenced-tick-publisher.ts), reads the schedule topic up to that claim to learn the last
 * slot published, publishes the slots missed meanwhile (the missed-slot policy, missed-slots.ts), then one
 * tick per slot as it comes due. Each tick and the new last slot are one transaction.
 *
 * Any failure to publish makes the leader start over (a new claim, a new read): it never guesses whether a
 * failed commit went through. A fenced leader steps down until the group gives it the schedule again.
 * The ids are deterministic (name + slot), so a consumer with an idempotency store runs one effect per slot
 * even if a tick were ever written twice.
 */
import { hostname } from 'node:os';
import { OrderlyError } from '../core/errors.ts';
import { createKafkaClient, type Kafka } from '../core/kafka-client.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { CronSchedule } from './cron-schedule.ts';
import { FencedTickPublisher, isFencedError } from './fenced-tick-publisher.ts';
import { planDueSlots } from './missed-slots.ts';
import { validateCronSchedulerOptions, type CronSchedulerOptions, type ValidCronSchedulerOptions } from './options.ts';
import { ScheduleLeadership } from './schedule-leadership.ts';
import { requireScheduleTopics } from './schedule-topic.ts';
import { SchedulerEventEmitter } from './scheduler-events.ts';
import { sleep, sleepUntil } from './sleep-until.ts';

/** What a scheduler instance knows about itself. */
export interface SchedulerStatus {
  schedule: string;
  instance: string;
  leading: boolean;
  /** The last slot this instance knows to be published (epoch ms). */
  lastSlotMs?: number;
  nextSlotMs?: number;
}

/** The most ticks one transaction carries. */
const publishBatch = 100;

export class CronScheduler {
  readonly events = new SchedulerEventEmitter();
  readonly schedule: CronSchedule;
  readonly #options: ValidCronSchedulerOptions;
  readonly #instance: string;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #kafka: Kafka;
  readonly #publisher: FencedTickPublisher;
  readonly #leadership: ScheduleLeadership;
  #leading = false;
  #lastSlotMs: number | undefined;
  #current: AbortController | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #crash: Error | undefined;
  readonly #whenStopped: Promise<void>;
  #settleStopped!: (error?: Error) => void;

  constructor(options: CronSchedulerOptions) {
    this.#options = validateCronSchedulerOptions(options);
    this.schedule = new CronSchedule(this.#options.schedule, this.#options.timezone);
    this.#instance = this.#options.instance ?? `${hostname()}:${process.pid}`;
    this.#now = this.#options.now ?? Date.now;
    const logger = this.#options.logger ?? createLogger();
    this.#logger = componentLogger(logger, 'cron-scheduler', { schedule: this.#options.name, instance: this.#instance });
    this.#kafka = createKafkaClient({ clientId: `orderly-cron-${this.#options.name}`, ...this.#options.kafka }, logger);
    const { name, topic, scheduleTopic, timezone } = this.#options;
    this.#publisher = new FencedTickPublisher(this.#kafka, { name, expression: this.schedule.expression, timezone, topic, scheduleTopic, instance: this.#instance }, this.#options.transactionTimeoutMs);
    this.#leadership = new ScheduleLeadership(this.#kafka, { schedule: name, scheduleTopic, sessionTimeoutMs: this.#options.sessionTimeoutMs, heartbeatIntervalMs: this.#options.heartbeatIntervalMs }, {
      assigned: (generation) => this.#onAssigned(generation),
      revoked: () => this.#current?.abort(),
      crashed: (error) => {
        this.#crash = new OrderlyError('CLIENT_CRASHED', `the leadership group consumer of schedule ${name} crashed: ${error.message}`, { cause: error });
        this.#logger.error({ err: error }, 'leadership consumer crashed: the scheduler stops');
        void this.stop();
      },
    });
    this.#whenStopped = new Promise((resolve, reject) => {
      this.#settleStopped = (error) => (error ? reject(error) : resolve());
    });
    this.#whenStopped.catch(() => undefined);
  }

  /** Checks both topics exist, then joins the leadership group. Resolves once joined; ticks start when this instance leads. */
  async start(): Promise<void> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      await requireScheduleTopics(admin, this.#options.scheduleTopic, this.#options.topic);
    } finally {
      await admin.disconnect();
    }
    await this.#leadership.start();
    this.#logger.info({ expression: this.schedule.expression, timezone: this.schedule.timezone, topic: this.#options.topic }, 'scheduler joined the leadership group');
  }

  status(): SchedulerStatus {
    const now = this.#now();
    return {
      schedule: this.#options.name,
      instance: this.#instance,
      leading: this.#leading,
      ...(this.#lastSlotMs !== undefined ? { lastSlotMs: this.#lastSlotMs } : {}),
      ...(() => {
        const next = this.schedule.nextSlotAfter(Math.max(now, this.#lastSlotMs ?? now));
        return next === undefined ? {} : { nextSlotMs: next };
      })(),
    };
  }

  /** Resolves when stopped; rejects when the scheduler stopped because its group consumer crashed. */
  whenStopped(): Promise<void> {
    return this.#whenStopped;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.#whenStopped.catch(() => undefined);
    this.#stopped = true;
    this.#current?.abort();
    await this.#running;
    await this.#publisher.close();
    await this.#leadership.stop().catch(() => undefined);
    this.#settleStopped(this.#crash);
    await this.#whenStopped.catch(() => undefined);
  }

  #onAssigned(generation: number): void {
    this.#current?.abort();
    const control = new AbortController();
    this.#current = control;
    this.#running = this.#running.then(() => this.#lead(generation, control.signal));
  }

  /** Leads while `signal` is not aborted: claim (fencing), read up to the claim, publish due slots, repeat on error. */
  async #lead(generation: number, signal: AbortSignal): Promise<void> {
    const { name } = this.#options;
    let backoffMs = 500;
    while (!signal.aborted && !this.#stopped && this.#leadership.generation() === generation) {
      try {
        const nonce = await this.#publisher.claim(this.#now());
        await this.#leadership.waitForClaim(nonce, this.#options.claimTimeoutMs, signal);
        if (signal.aborted) break;
        const acquiredAt = this.#now();
        const lastSlot = this.#leadership.lastSlotMs();
        this.#lastSlotMs = lastSlot;
        this.#leading = true;
        this.events.emit('scheduler.leadership.changed', { schedule: name, leading: true, instance: this.#instance, ...(lastSlot !== undefined ? { lastSlotMs: lastSlot } : {}) });
        this.#logger.info({ lastSlot: lastSlot === undefined ? null : new Date(lastSlot).toISOString(), generation }, 'leading the schedule (earlier leaders fenced)');
        const after = lastSlot ?? acquiredAt;
        backoffMs = 500;
        let planFrom = after;
        while (!signal.aborted) {
          const now = this.#now();
          const plan = planDueSlots(this.schedule, planFrom, now, this.#options.missedSlots, this.#options.maxCatchUp);
          if (plan.skipped > 0) {
            const toMs = plan.publish[0] ?? now;
            this.events.emit('scheduler.slots.skipped', { schedule: name, count: plan.skipped, fromMs: planFrom, toMs });
            this.#logger.warn({ skipped: plan.skipped, atLeast: plan.skippedAtLeast, policy: this.#options.missedSlots, after: new Date(planFrom).toISOString() }, 'missed slots skipped by the missed-slot policy');
          }
          // Due slots go out together (at most `publishBatch` a transaction): a catch-up costs one commit, not one per slot.
          for (let start = 0; start < plan.publish.length && !signal.aborted; start += publishBatch) {
            const batch = plan.publish.slice(start, start + publishBatch);
            const publishedAt = await this.#publisher.publish(batch, this.#now);
            this.#lastSlotMs = batch.at(-1);
            for (const slot of batch) {
              const mode = slot < acquiredAt ? 'catch-up' : 'live';
              this.events.emit('scheduler.tick.published', { schedule: name, slotMs: slot, publishedAtMs: publishedAt, latenessMs: publishedAt - slot, mode });
              this.#logger.debug({ slot: new Date(slot).toISOString(), latenessMs: publishedAt - slot, mode }, 'tick published');
            }
          }
          // Every slot in (planFrom, now] is now published or skipped.
          planFrom = now;
          const next = this.schedule.nextSlotAfter(now);
          if (next === undefined) {
            this.#logger.warn('the schedule has no further slot');
            await sleep(60_000, signal);
            continue;
          }
          const aheadMs = this.#options.prepareAheadMs;
          if (aheadMs === 0) {
            await sleepUntil(next, this.#now, signal);
            continue;
          }
          // Write the next tick ahead of its slot in an open transaction and commit it at the slot: after the slot,
          // only the commit is left. Nobody reading read_committed sees it before the commit.
          await sleep(next - aheadMs - this.#now(), signal);
          if (signal.aborted) break;
          const prepared = await this.#publisher.prepare([next], this.#now);
          // Never before the slot: a timer can fire while the clock still reads a millisecond before it.
          await sleepUntil(next, this.#now, signal);
          if (signal.aborted) {
            await prepared.abort();
            break;
          }
          const wokeAt = this.#now();
          const publishedAt = await prepared.commit();
          this.#lastSlotMs = next;
          planFrom = next;
          this.events.emit('scheduler.tick.published', { schedule: name, slotMs: next, publishedAtMs: publishedAt, latenessMs: publishedAt - next, mode: 'live' });
          // Where the lateness comes from: the timer (woke after the slot) or the commit's round trip.
          this.#logger.debug({ slot: new Date(next).toISOString(), latenessMs: publishedAt - next, wokeLateMs: wokeAt - next, commitMs: publishedAt - wokeAt, mode: 'live' }, 'tick published');
        }
      } catch (error) {
        if (isFencedError(error)) {
          this.events.emit('scheduler.publish.fenced', { schedule: name, slotMs: this.#lastSlotMs ?? 0 });
          this.#logger.warn({ generation }, 'fenced: a newer leader took the schedule over; stepping down until the group assigns it here again');
          break;
        }
        const errorType = (error as Error)?.name ?? 'Error';
        this.events.emit('scheduler.publish.failed', { schedule: name, errorType });
        this.#logger.warn({ err: error, backoffMs }, 'claim or publish failed: the schedule topic is read again before the next publish');
        await this.#publisher.close();
        this.#stepDown();
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
    this.#stepDown();
    await this.#publisher.close();
  }

  #stepDown(): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.events.emit('scheduler.leadership.changed', { schedule: this.#options.name, leading: false, instance: this.#instance });
    this.#logger.info('no longer leading the schedule');
  }
}
