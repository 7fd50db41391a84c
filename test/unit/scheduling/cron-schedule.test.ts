/** Slots of cron expressions: the seconds field, time zones, and DST gaps and repeats (Europe/Berlin, America/New_York). */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { CronSchedule } from '../../../scheduling/cron-schedule.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const slotsOf = (schedule: CronSchedule, from: string, to: string) => schedule.slotsBetween(Date.parse(from), Date.parse(to)).slots.map(iso);

describe('CronSchedule', () => {
  it('reads a seconds field: every second, every 10 seconds, strictly after the given instant', () => {
    const everySecond = new CronSchedule('* * * * * *');
    expect(iso(everySecond.nextSlotAfter(Date.parse('2026-01-01T00:00:00.000Z')))).toBe('2026-01-01T00:00:01.000Z');
    expect(iso(everySecond.nextSlotAfter(Date.parse('2026-01-01T00:00:00.999Z')))).toBe('2026-01-01T00:00:01.000Z');
    expect(slotsOf(new CronSchedule('*/10 * * * * *'), '2026-01-01T00:00:00Z', '2026-01-01T00:00:30Z')).toEqual([
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:30.000Z',
    ]);
    expect(slotsOf(new CronSchedule('0 12 * * *'), '2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z')).toEqual(['2026-01-01T12:00:00.000Z', '2026-01-02T12:00:00.000Z']);
  });

  it('reads the expression in its time zone', () => {
    expect(iso(new CronSchedule('0 0 9 * * *', 'Asia/Tokyo').nextSlotAfter(Date.parse('2026-06-01T00:00:00Z')))).toBe('2026-06-02T00:00:00.000Z');
    expect(iso(new CronSchedule('0 0 9 * * *', 'America/New_York').nextSlotAfter(Date.parse('2026-06-01T00:00:00Z')))).toBe('2026-06-01T13:00:00.000Z');
  });

  it('in a DST gap (Berlin, 2026-03-29 02:00 -> 03:00): a fixed time inside it runs once, at 03:00 local; a step has no slot inside it', () => {
    const daily = new CronSchedule('0 30 2 * * *', 'Europe/Berlin');
    expect(slotsOf(daily, '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    const quarterly = new CronSchedule('0 */15 * * * *', 'Europe/Berlin');
    expect(slotsOf(quarterly, '2026-03-29T00:40:00Z', '2026-03-29T01:20:00Z')).toEqual([
      '2026-03-29T00:45:00.000Z', // 01:45 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:00 to 02:45 never happen
      '2026-03-29T01:15:00.000Z',
    ]);
  });

  it('in a DST repeat (Berlin, 2026-10-25 02:00-03:00 twice): a fixed time runs once, at its first occurrence; a step runs in both hours', () => {
    const daily = new CronSchedule('0 30 2 * * *', 'Europe/Berlin');
    expect(slotsOf(daily, '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first 02:30
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
    const slots = slotsOf(new CronSchedule('0 */30 * * * *', 'Europe/Berlin'), '2026-10-24T23:50:00Z', '2026-10-25T02:10:00Z');
    expect(slots).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:00:00.000Z',
    ]);
    expect(new Set(slots).size).toBe(slots.length);
  });

  it('in New York too (gap 2026-03-08 02:00 -> 03:00, repeat 2026-11-01 01:00-02:00 twice)', () => {
    const gapDay = slotsOf(new CronSchedule('0 30 2 * * *', 'America/New_York'), '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z');
    expect(gapDay).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']); // 02:30 does not exist: 03:00 EDT; then 02:30 EDT
    const repeatDay = slotsOf(new CronSchedule('0 30 1 * * *', 'America/New_York'), '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z');
    expect(repeatDay).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']); // 01:30 EDT (the first), then 01:30 EST
  });

  it('refuses a malformed expression or an unknown zone with a ConfigurationError naming it', () => {
    expect(() => new CronSchedule('every minute')).toThrow(ConfigurationError);
    expect(() => new CronSchedule('61 * * * * *')).toThrow(/61/);
    expect(() => new CronSchedule('* * * * * *', 'Mars/Olympus')).toThrow(/Mars\/Olympus/);
  });

  it('bounds the slots it lists and says when more were left out', () => {
    const { slots, more } = new CronSchedule('* * * * * *').slotsBetween(0, 3_600_000, 10);
    expect(slots).toHaveLength(10);
    expect(more).toBe(true);
  });
});
