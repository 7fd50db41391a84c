/**
 * The tick a schedule publishes for one slot: keyed by the schedule's name, with an event id derived from the
 * name and the slot (UUIDv5), so that every publish of a slot, by any instance, carries the same id and the
 * consumer's idempotency store turns a repeat into one effect.
 *
 * Headers: the envelope (`orderly-event-id`, `orderly-event-type` = `orderly.cron.Tick`, `orderly-occurred-at` =
 * the slot), plus `orderly-scheduled-for` (the slot, ISO-8601 UTC) and `orderly-schedule` (the name). The value
 * is a small JSON document (a consumer decodes it with the JSON decoder, or reads the headers only).
 */
import { v5 as uuidv5 } from 'uuid';
import { headerNames } from '../core/headers.ts';
import type { Message } from '../core/kafka-client.ts';
import { envelopeToHeaders } from '../producers/envelope-headers.ts';

export const tickHeaderNames = {
  scheduledFor: headerNames.scheduledFor,
  schedule: headerNames.schedule,
} as const;

export const tickEventType = 'orderly.cron.Tick';

/** The namespace of tick ids (a fixed random UUID: changing it changes every tick id). */
const tickNamespace = '5b0f3c1e-8f0a-4d3e-9a7c-2f6b8e4d1a90';

/** The event id of `schedule`'s tick for `slotMs`: the same for every publisher, different for every slot. */
export function tickEventId(schedule: string, slotMs: number): string {
  return uuidv5(`${schedule}\u0000${new Date(slotMs).toISOString()}`, tickNamespace);
}

/** What a tick's value holds. */
export interface TickValue {
  schedule: string;
  /** The slot, ISO-8601 UTC. */
  scheduledFor: string;
  expression: string;
  timezone: string;
}

/** The Kafka message of one tick. */
export function tickMessage(schedule: { name: string; expression: string; timezone: string }, slotMs: number): Message {
  const scheduledFor = new Date(slotMs).toISOString();
  const value: TickValue = { schedule: schedule.name, scheduledFor, expression: schedule.expression, timezone: schedule.timezone };
  return {
    key: schedule.name,
    // The record's timestamp is the slot, whenever it is written (a tick may be written ahead of its slot, committed at it).
    timestamp: String(slotMs),
    value: JSON.stringify(value),
    headers: envelopeToHeaders(
      { eventId: tickEventId(schedule.name, slotMs), eventType: tickEventType, occurredAt: scheduledFor },
      { [tickHeaderNames.scheduledFor]: scheduledFor, [tickHeaderNames.schedule]: schedule.name },
    ),
  };
}
