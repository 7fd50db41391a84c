/**
 * The slots of a cron expression in a time zone, through croner (a maintained parser with a seconds field,
 * IANA time zones and DST handling). A slot is an instant (epoch ms): two slots are the same tick only when
 * they are the same instant, whatever the wall clock says.
 *
 * DST, as croner computes it and the unit tests pin down:
 * - In a gap (02:00 to 03:00 does not exist), a slot at a fixed wall time inside it (`0 30 2 * * *`) runs once,
 *   at the first instant after the gap (03:00 local); a step (`0 *\/15 * * * *`) has no slots in the gap.
 * - In a repeat (02:00 to 03:00 happens twice), a fixed wall time runs once, at its first occurrence; a step
 *   runs in both hours, since they are different instants.
 */
import { Cron } from 'croner';
import { ConfigurationError } from '../core/errors.ts';

/** The most slots one call enumerates: a bound on work, not on the schedule. */
export const maxEnumeratedSlots = 100_000;

export class CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  readonly #cron: Cron;

  constructor(expression: string, timezone = 'UTC') {
    const fields = expression.trim().split(/\s+/);
    if (fields.length < 5 || fields.length > 7) {
      throw new ConfigurationError([`schedule "${expression}": a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "*/5 * * * * *"`]);
    }
    if (!isTimeZone(timezone)) throw new ConfigurationError([`timezone "${timezone}": not an IANA time zone the runtime knows (e.g. UTC, Europe/Berlin)`]);
    try {
      this.#cron = new Cron(expression, { timezone, paused: true });
    } catch (error) {
      throw new ConfigurationError([`schedule "${expression}": ${(error as Error).message}`]);
    }
    if (this.#cron.nextRun(new Date(0)) === null && this.#cron.nextRun() === null) {
      throw new ConfigurationError([`schedule "${expression}": has no slot at all`]);
    }
    this.expression = expression;
    this.timezone = timezone;
  }

  /** The first slot strictly after `afterMs`, or undefined when the schedule has none. */
  nextSlotAfter(afterMs: number): number | undefined {
    // croner works at second precision and returns the first run after the second it is given.
    const next = this.#cron.nextRun(new Date(afterMs));
    if (next === null) return undefined;
    const at = next.getTime();
    return at > afterMs ? at : this.nextSlotAfter(afterMs + 1_000 - (afterMs % 1_000));
  }

  /**
   * The slots in (afterMs, untilMs], oldest first, at most `limit` of them counted from the oldest; `more` says
   * whether slots were left out past the limit.
   */
  slotsBetween(afterMs: number, untilMs: number, limit = maxEnumeratedSlots): { slots: number[]; more: boolean } {
    const slots: number[] = [];
    let cursor = afterMs;
    for (;;) {
      const next = this.nextSlotAfter(cursor);
      if (next === undefined || next > untilMs) return { slots, more: false };
      if (slots.length >= limit) return { slots, more: true };
      slots.push(next);
      cursor = next;
    }
  }
}

function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}
