/**
 * The two headers of delayed events (names in core/headers.ts), read at intake in one pass over a record's
 * headers: `orderly-deliver-at` (epoch ms; the record may not reach the handler before it) and `orderly-cancels`
 * (a cancel record: the id of the delayed event it cancels). A record with neither costs one pass that compares
 * lengths, which is what the consumer's hot path pays for this feature.
 */
import { headerNames, textOf, type RecordHeader } from '../../core/headers.ts';

/** What a record's delay headers say; undefined for an ordinary record. */
export type DelayInfo = { kind: 'delayed'; deliverAt: number } | { kind: 'cancel'; cancels: string };

const deliverAtName = headerNames.deliverAt;
const cancelsName = headerNames.cancels;
/** The longest event id a cancel record may name (the consumer's own limit on ids). */
const maxEventIdLength = 200;

/**
 * The delay headers of a record, read defensively: the last value wins, a deliver-at that is not a whole
 * number of ms (or is negative) is ignored, and so is an empty or overlong cancel id. `orderly-cancels` wins
 * over `orderly-deliver-at` (a cancel record is never handled), on a record without a value only, as
 * `producer.cancel` writes it: on an event with a value (a header copied by a bridge, or forged) it is ignored,
 * or the event would be dropped unhandled and cancel another.
 */
export function readDelay(list: readonly RecordHeader[], value: Buffer | null = null): DelayInfo | undefined {
  let deliverAt: Buffer | null | undefined;
  let cancels: Buffer | null | undefined;
  for (let index = 0; index < list.length; index++) {
    const { name, value } = list[index]!;
    // Both names are 18 and 15 bytes long: most headers are told apart by their length alone.
    if (name.length === deliverAtName.length) {
      if (name.toString('latin1') === deliverAtName) deliverAt = value;
    } else if (name.length === cancelsName.length && name.toString('latin1') === cancelsName) cancels = value;
  }
  if (cancels !== undefined && (value === null || value.length === 0)) {
    const id = textOf(cancels);
    if (id !== undefined && id.length > 0 && id.length <= maxEventIdLength) return { kind: 'cancel', cancels: id };
  }
  if (deliverAt !== undefined) {
    const text = textOf(deliverAt);
    if (text !== undefined && /^\d{1,16}$/.test(text)) return { kind: 'delayed', deliverAt: Number(text) };
  }
  return undefined;
}

/**
 * {@link readDelay} from a record that looks its headers up by name in its own bytes (consumed-record.ts): the
 * same answer, and no header list is built for the many records that have neither header.
 */
export function readDelayWith(headers: { headerText(name: string): string | undefined }, value: Buffer | null): DelayInfo | undefined {
  if (value === null || value.length === 0) {
    const cancels = headers.headerText(cancelsName);
    if (cancels !== undefined && cancels.length > 0 && cancels.length <= maxEventIdLength) return { kind: 'cancel', cancels };
  }
  const deliverAt = headers.headerText(deliverAtName);
  if (deliverAt !== undefined && /^\d{1,16}$/.test(deliverAt)) return { kind: 'delayed', deliverAt: Number(deliverAt) };
  return undefined;
}
