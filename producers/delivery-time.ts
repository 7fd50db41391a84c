/**
 * Delayed events on the producer side (docs/scheduling.md, "Delayed events"): the `orderly-deliver-at` header a
 * delayed event carries, and the cancel record `producer.cancel` writes. The consumer does the waiting
 * (consumers/delays/); the producer writes the event durably at once.
 */
import { headerNames } from '../core/headers.ts';
import { OrderlyError } from '../core/errors.ts';
import { newEventId } from './event-id.ts';
import type { CancelRequest, DeliveryOptions, EncodedOutgoingEvent } from './outgoing-event.ts';

/** The furthest a due time may be (a year): a consumer caps nothing, so a typo of units would wait forever. */
const maxDelayMs = 366 * 24 * 60 * 60 * 1000;

/** The due time of an event, epoch ms; undefined when it is not delayed. Throws on a bad one. */
export function deliveryTimeOf({ deliverAt, delayMs }: DeliveryOptions, now = Date.now()): number | undefined {
  if (deliverAt !== undefined && delayMs !== undefined) throw new OrderlyError('CONFIGURATION', 'give deliverAt or delayMs, not both');
  if (delayMs !== undefined) {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new OrderlyError('CONFIGURATION', `delayMs must be a number of ms >= 0, not ${delayMs}`);
    if (delayMs > maxDelayMs) throw new OrderlyError('CONFIGURATION', `delayMs ${delayMs} is more than a year`);
    return now + Math.ceil(delayMs);
  }
  if (deliverAt === undefined) return undefined;
  const at = deliverAt instanceof Date ? deliverAt.getTime() : deliverAt;
  if (!Number.isFinite(at) || at < 0) throw new OrderlyError('CONFIGURATION', `deliverAt must be a Date or epoch ms, not ${String(deliverAt)}`);
  if (at - now > maxDelayMs) throw new OrderlyError('CONFIGURATION', `deliverAt ${new Date(at).toISOString()} is more than a year ahead`);
  return Math.ceil(at);
}

/** The caller's headers plus `orderly-deliver-at` for a delayed event (which no extra header may replace). */
export function deliveryHeaders(delivery: DeliveryOptions, extra: Record<string, string | Buffer> | undefined): Record<string, string | Buffer> | undefined {
  const at = deliveryTimeOf(delivery);
  const own = extra && Object.keys(extra).some((name) => isDelayHeader(name)) ? Object.fromEntries(Object.entries(extra).filter(([name]) => !isDelayHeader(name))) : extra;
  return at === undefined ? own : { ...own, [headerNames.deliverAt]: String(at) };
}

function isDelayHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === headerNames.deliverAt || lower === headerNames.cancels;
}

/** The cancel record of `request`: the event's key, an empty value, `orderly-cancels` naming the event. */
export function cancelRecordOf({ eventId, key, topic }: CancelRequest & { topic: string }): EncodedOutgoingEvent {
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > 200) throw new OrderlyError('CONFIGURATION', 'cancel: eventId must be the id of the delayed event (1 to 200 characters)');
  return { topic, key, value: Buffer.alloc(0), type: 'orderly.Cancel', eventId: newEventId(), occurredAt: new Date(), headers: { [headerNames.cancels]: eventId } };
}
