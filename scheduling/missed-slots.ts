/**
 * Which slots to publish now: every slot after the last one published up to now, shaped by the schedule's
 * policy for slots missed while no leader ran.
 * - `catch-up`: publish every due slot, oldest first, but at most `maxCatchUp` of them: the most recent ones;
 *   older ones are skipped (counted, logged).
 * - `skip`: publish only the latest due slot; the others are skipped.
 * With no slot ever published, nothing is due: the schedule starts with its first slot after now.
 */
import type { CronSchedule } from './cron-schedule.ts';

export type MissedSlotPolicy = 'catch-up' | 'skip';

export interface SlotPlan {
  /** Slots to publish, oldest first. */
  publish: number[];
  /** Due slots left out by the policy (a lower bound when `skippedAtLeast`). */
  skipped: number;
  /** True when there were more due slots than could be enumerated. */
  skippedAtLeast: boolean;
}

export function planDueSlots(schedule: CronSchedule, lastSlotMs: number | undefined, nowMs: number, policy: MissedSlotPolicy, maxCatchUp: number): SlotPlan {
  if (lastSlotMs === undefined) return { publish: [], skipped: 0, skippedAtLeast: false };
  const { slots, more } = schedule.slotsBetween(lastSlotMs, nowMs);
  if (more) {
    // Too many to list: the newest ones are found from a later starting point.
    const tail = latestSlots(schedule, nowMs, policy === 'skip' ? 1 : maxCatchUp, lastSlotMs);
    return { publish: tail, skipped: slots.length - tail.length, skippedAtLeast: true };
  }
  const keep = policy === 'skip' ? 1 : maxCatchUp;
  const publish = slots.slice(Math.max(0, slots.length - keep));
  return { publish, skipped: slots.length - publish.length, skippedAtLeast: false };
}

/** The newest `count` slots in (afterMs, nowMs], looking back in widening windows. */
function latestSlots(schedule: CronSchedule, nowMs: number, count: number, afterMs: number): number[] {
  for (let windowMs = 60_000; ; windowMs *= 4) {
    const from = Math.max(afterMs, nowMs - windowMs);
    const { slots, more } = schedule.slotsBetween(from, nowMs);
    if (!more && (slots.length >= count || from === afterMs)) return slots.slice(Math.max(0, slots.length - count));
    if (more) return schedule.slotsBetween(nowMs - windowMs / 4, nowMs).slots.slice(-count);
  }
}
