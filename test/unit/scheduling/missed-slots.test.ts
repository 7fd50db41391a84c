/** The missed-slot policies, tick ids and schedule-topic records: pure logic. */
import { describe, expect, it } from 'vitest';
import { CronSchedule } from '../../../scheduling/cron-schedule.ts';
import { planDueSlots } from '../../../scheduling/missed-slots.ts';
import { claimMessage, parseScheduleRecord, stateMessage } from '../../../scheduling/schedule-records.ts';
import { tickEventId, tickMessage } from '../../../scheduling/tick-event.ts';

const everySecond = new CronSchedule('* * * * * *');
const t0 = Date.parse('2026-01-01T00:00:00Z');

describe('planDueSlots', () => {
  it('catch-up publishes every slot after the last one up to now, oldest first', () => {
    expect(planDueSlots(everySecond, t0, t0 + 3_500, 'catch-up', 100)).toEqual({ publish: [t0 + 1_000, t0 + 2_000, t0 + 3_000], skipped: 0, skippedAtLeast: false });
  });

  it('catch-up keeps the newest maxCatchUp slots and counts the rest as skipped', () => {
    expect(planDueSlots(everySecond, t0, t0 + 10_000, 'catch-up', 3)).toEqual({ publish: [t0 + 8_000, t0 + 9_000, t0 + 10_000], skipped: 7, skippedAtLeast: false });
  });

  it('skip publishes only the latest due slot', () => {
    expect(planDueSlots(everySecond, t0, t0 + 10_000, 'skip', 100)).toEqual({ publish: [t0 + 10_000], skipped: 9, skippedAtLeast: false });
  });

  it('nothing is due before the next slot, and nothing before a first slot was ever published', () => {
    expect(planDueSlots(everySecond, t0, t0 + 999, 'catch-up', 100).publish).toEqual([]);
    expect(planDueSlots(everySecond, undefined, t0 + 10_000, 'catch-up', 100).publish).toEqual([]);
  });

  it('after a long outage (more slots than it lists) still publishes the newest ones and says the skipped count is a lower bound', () => {
    const plan = planDueSlots(everySecond, t0, t0 + 2 * 86_400_000, 'catch-up', 5);
    expect(plan.publish).toEqual([1, 2, 3, 4, 5].map((n) => t0 + 2 * 86_400_000 - (5 - n) * 1_000));
    expect(plan.skippedAtLeast).toBe(true);
    expect(plan.skipped).toBeGreaterThan(0);
  });
});

describe('tick events', () => {
  it('have one id per schedule and slot, the same on every call, different for another slot or schedule', () => {
    expect(tickEventId('nightly', t0)).toBe(tickEventId('nightly', t0));
    expect(tickEventId('nightly', t0)).not.toBe(tickEventId('nightly', t0 + 1_000));
    expect(tickEventId('nightly', t0)).not.toBe(tickEventId('hourly', t0));
    expect(tickEventId('nightly', t0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('carry the key, the envelope and orderly-scheduled-for', () => {
    const message = tickMessage({ name: 'nightly', expression: '0 0 2 * * *', timezone: 'Europe/Berlin' }, t0);
    expect(message.key).toBe('nightly');
    expect(message.headers).toMatchObject({
      'orderly-event-id': tickEventId('nightly', t0),
      'orderly-event-type': 'orderly.cron.Tick',
      'orderly-occurred-at': '2026-01-01T00:00:00.000Z',
      'orderly-scheduled-for': '2026-01-01T00:00:00.000Z',
      'orderly-schedule': 'nightly',
    });
    expect(JSON.parse(String(message.value))).toEqual({ schedule: 'nightly', scheduledFor: '2026-01-01T00:00:00.000Z', expression: '0 0 2 * * *', timezone: 'Europe/Berlin' });
  });
});

describe('schedule-topic records', () => {
  it('round-trip a state and a claim under their own keys, and ignore anything else', () => {
    const state = stateMessage({ schedule: 's', lastSlot: '2026-01-01T00:00:00.000Z', lastEventId: 'x', expression: '* * * * * *', timezone: 'UTC', topic: 't', instance: 'i' });
    const claim = claimMessage({ schedule: 's', instance: 'i', nonce: 'n', claimedAt: '2026-01-01T00:00:00.000Z', expression: '* * * * * *', timezone: 'UTC', topic: 't' });
    expect(state.key).toBe('s');
    expect(claim.key).toBe('s#leader');
    expect(parseScheduleRecord(Buffer.from(String(state.value)))).toMatchObject({ kind: 'state', lastSlot: '2026-01-01T00:00:00.000Z' });
    expect(parseScheduleRecord(Buffer.from(String(claim.value)))).toMatchObject({ kind: 'claim', nonce: 'n' });
    for (const bad of [null, Buffer.from('not json'), Buffer.from('[1]'), Buffer.from('{"kind":"state","schedule":"s","lastSlot":"never"}'), Buffer.from('{"kind":"other","schedule":"s"}')]) {
      expect(parseScheduleRecord(bad)).toBeUndefined();
    }
  });
});
