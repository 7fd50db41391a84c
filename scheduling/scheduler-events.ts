/**
 * The instrumentation events of the cron scheduler (observability subscribes; see instrumentScheduler). No
 * payloads: the schedule's name, slots and durations only.
 */
import { EventEmitter } from 'node:events';

export interface SchedulerEvents {
  /** A tick was committed. `mode`: `live` for a slot that came due while this instance led, `catch-up` for one missed before. */
  'scheduler.tick.published': [{ schedule: string; slotMs: number; publishedAtMs: number; latenessMs: number; mode: 'live' | 'catch-up' }];
  /** Due slots the missed-slot policy left out (never published). */
  'scheduler.slots.skipped': [{ schedule: string; count: number; fromMs: number; toMs: number }];
  /** This instance took the schedule over (after fencing the previous leader) or gave it up. */
  'scheduler.leadership.changed': [{ schedule: string; leading: boolean; instance: string; lastSlotMs?: number }];
  /** A publish was refused because a newer leader fenced this instance's producer. */
  'scheduler.publish.fenced': [{ schedule: string; slotMs: number }];
  /** A publish or a claim failed for another reason: the instance re-reads the schedule topic before it publishes again. */
  'scheduler.publish.failed': [{ schedule: string; errorType: string }];
}

export class SchedulerEventEmitter extends EventEmitter<SchedulerEvents> {}
