/**
 * The reference model of the record path and its invariants, stated over what can be observed from outside:
 * the topics (fake broker), the parking store's entries, and the handler's effects. Nothing here knows how the
 * real classes are built (that is record-path-system.ts, the one adapter).
 *
 * Invariants:
 * - commit safety: a commit never passes a record whose event is then lost (neither handled, nor in the DLT, nor
 *   waiting as an uncommitted copy on the source topic or a retry tier);
 * - once: every event ends handled or in the DLT, and only once (a second effect or DLT copy only where a
 *   processing's outcome never reached the store: it was abandoned, fenced, or its member died);
 * - per-key order: the first effects of a key's events that were never dead-lettered come in production order
 *   (except for a key whose parking write was lost: order rests on that write being durable, and Redis may lose
 *   an acknowledged write; what must hold even then is that no event is lost or handled twice);
 * - no stuck key: once the system is drained, and a key still parked has had one more event (a held one with
 *   events queued released first, as an operator would), no key is parked behind a head (a held key has
 *   nothing queued);
 * - no stall: draining ends with every partition of every topic committed to its end.
 */
import type { ParkedKeyEntry } from '../../consumers/retries/parking-store.ts';
import type { FakeBroker, StoredRecord } from './fake-broker.ts';

export const eventIdHeader = 'orderly-event-id';

export interface ProducedEvent {
  eventId: string;
  key: string;
  partition: number;
  /** Production order. */
  sequence: number;
}

export interface Effect {
  eventId: string;
  /** Global order of effects. */
  sequence: number;
}

/** What the runs record as they go; the invariants read it. */
export class Observations {
  readonly produced: ProducedEvent[] = [];
  readonly effects: Effect[] = [];
  /** Effects and DLT copies made by a processing whose outcome never reached the store (abandoned, fenced, died). */
  readonly unconfirmed = new Map<string, number>();
  /** Replays of each event by `dlt replay`. */
  readonly replays = new Map<string, number>();
  private sequence = 0;

  nextSequence(): number {
    return ++this.sequence;
  }

  effectCount(eventId: string): number {
    return this.effects.filter((effect) => effect.eventId === eventId).length;
  }

  addUnconfirmed(eventId: string, count: number): void {
    if (count > 0) this.unconfirmed.set(eventId, (this.unconfirmed.get(eventId) ?? 0) + count);
  }
}

/** The topics and stores the invariants look at. */
export interface WorldView {
  broker: FakeBroker;
  sourceTopic: string;
  tierTopics: readonly string[];
  deadLetterTopic: string;
  partitions: number;
  parkingEntries(): ParkedKeyEntry[];
  /** Keys whose parking write the store acknowledged and lost. */
  keysWithLostParkingWrites(): ReadonlySet<string>;
}

export function eventIdOf(record: StoredRecord): string | undefined {
  const value = record.headers[eventIdHeader];
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last === undefined ? undefined : last.toString();
}

function deadLetterCopies(view: WorldView, eventId: string): number {
  let count = 0;
  for (let partition = 0; partition < view.partitions; partition++) {
    for (const record of view.broker.log(view.deadLetterTopic, partition)) if (eventIdOf(record) === eventId) count++;
  }
  return count;
}

/** An uncommitted copy of the event on the source topic or a tier (its partition), committed offsets as given. */
function waitingCopy(view: WorldView, eventId: string, partition: number, committedOf: (topic: string) => number): boolean {
  for (const topic of [view.sourceTopic, ...view.tierTopics]) {
    const log = view.broker.log(topic, partition);
    for (let offset = committedOf(topic); offset < log.length; offset++) if (eventIdOf(log[offset]!) === eventId) return true;
  }
  return false;
}

/** Commit safety, checked before a commit of `topic`/`partition` moves from `from` to `to`. */
export function checkCommit(view: WorldView, observed: Observations, topic: string, partition: number, from: number, to: number): string[] {
  const violations: string[] = [];
  const log = view.broker.log(topic, partition);
  const committedOf = (candidate: string) => (candidate === topic ? to : view.broker.committed(candidate, partition));
  for (let offset = from; offset < to; offset++) {
    const eventId = eventIdOf(log[offset]!);
    if (eventId === undefined) continue;
    if (observed.effectCount(eventId) > 0 || deadLetterCopies(view, eventId) > 0 || waitingCopy(view, eventId, partition, committedOf)) continue;
    violations.push(`commit safety: ${topic}/${partition} committed to ${to} past offset ${offset} (${eventId}), which was neither handled, dead-lettered, nor waiting on a topic`);
  }
  return violations;
}

/** The invariants that hold once the system is drained (no faults, every handler succeeding, time passed). */
export function checkDrained(view: WorldView, observed: Observations): string[] {
  const violations: string[] = [];
  for (const topic of [view.sourceTopic, ...view.tierTopics]) {
    for (let partition = 0; partition < view.partitions; partition++) {
      const log = view.broker.log(topic, partition);
      const committed = view.broker.committed(topic, partition);
      if (committed < log.length) violations.push(`no stall: ${topic}/${partition} committed to ${committed} of ${log.length} after draining (waits at ${eventIdOf(log[committed]!)})`);
    }
  }
  const firstEffect = new Map<string, number>();
  for (const effect of observed.effects) if (!firstEffect.has(effect.eventId)) firstEffect.set(effect.eventId, effect.sequence);
  for (const event of observed.produced) {
    const effects = observed.effectCount(event.eventId);
    const copies = deadLetterCopies(view, event.eventId);
    const replays = observed.replays.get(event.eventId) ?? 0;
    if (effects === 0 && copies <= replays) violations.push(`lost: ${event.eventId} (key ${event.key}) was neither handled nor left in the DLT (${copies} DLT copies, ${replays} replays)`);
    const extra = effects + copies - replays - 1;
    if (extra > (observed.unconfirmed.get(event.eventId) ?? 0)) {
      violations.push(`once: ${event.eventId} (key ${event.key}) has ${effects} effect(s) and ${copies} DLT copy(ies) after ${replays} replay(s); unconfirmed outcomes excuse ${observed.unconfirmed.get(event.eventId) ?? 0}`);
    }
  }
  const keys = new Set(observed.produced.map((event) => event.key));
  for (const key of keys) {
    if (view.keysWithLostParkingWrites().has(key)) continue;
    const inOrder = observed.produced.filter((event) => event.key === key && deadLetterCopies(view, event.eventId) === 0 && firstEffect.has(event.eventId));
    for (let index = 1; index < inOrder.length; index++) {
      const before = inOrder[index - 1]!;
      const after = inOrder[index]!;
      if (firstEffect.get(after.eventId)! < firstEffect.get(before.eventId)!) {
        violations.push(`per-key order: ${after.eventId} took effect before its predecessor ${before.eventId} (key ${key})`);
      }
    }
  }
  for (const { topic, partition, key, state } of view.parkingEntries()) {
    if (!state.held) violations.push(`stuck key: ${key} (${topic}/${partition}) still parked after draining, behind head ${state.queue[0] ?? '(none)'} on tier ${state.headTier} (queue ${state.queue.join(',')})`);
    else if (state.queue.length > 0) violations.push(`stuck key: held key ${key} (${topic}/${partition}) still has queued events after draining: ${state.queue.join(',')}`);
  }
  return violations;
}
