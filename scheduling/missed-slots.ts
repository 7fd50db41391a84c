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
  const keep = policy === 'skip' ? 1 : maxCatchUp;
  // Listing slots costs about 50 µs each (croner): list a bounded number, never a day of 1-second slots.
  const { slots, more } = schedule.slotsBetween(lastSlotMs, nowMs, keep + listMargin);
  if (!more) {
    const publish = slots.slice(Math.max(0, slots.length - keep));
    return { publish, skipped: slots.length - publish.length, skippedAtLeast: false };
  }
  const publish = latestSlots(schedule, lastSlotMs, nowMs, keep);
  const first = publish[0] ?? nowMs;
  return { publish, skipped: Math.max(1, slots.filter((slot) => slot < first).length), skippedAtLeast: true };
}

const listMargin = 1_000;

/** The newest `count` slots in (afterMs, nowMs], looking back from now in windows four times wider each time. */
function latestSlots(schedule: CronSchedule, afterMs: number, nowMs: number, count: number): number[] {
  let found: number[] = [];
  for (let windowMs = 60_000; ; windowMs *= 4) {
    const from = Math.max(afterMs, nowMs - windowMs);
    const { slots, more } = schedule.slotsBetween(from, nowMs, 4 * count + listMargin);
    if (more) return found; // this window holds too many to list: keep the last one that could be listed
    found = slots.slice(Math.max(0, slots.length - count));
    if (slots.length >= count || from === afterMs) return found;
  }
}
