/**
 * The records of the schedule topic (one partition, compacted), JSON values:
 * - the state of a schedule, key `<name>`: the last slot published, written in the same Kafka transaction as
 *   that slot's tick, so the tick is on the tick topic exactly when the state says so;
 * - the claim of a schedule, key `<name>#leader`: written by an instance when it takes the schedule over (its
 *   first transaction, which fences the previous leader); it reads the topic up to its own claim to learn the
 *   last slot, and `orderly cron list` shows it as the leader.
 * Anything else on the topic (another tool's record, a value that is not one of these) is ignored.
 */
import type { Message } from '../core/kafka-client.ts';

export interface ScheduleState {
  kind: 'state';
  schedule: string;
  /** The last slot published, ISO-8601 UTC. */
  lastSlot: string;
  lastEventId: string;
  expression: string;
  timezone: string;
  topic: string;
  instance: string;
}

export interface ScheduleClaim {
  kind: 'claim';
  schedule: string;
  instance: string;
  /** Unique per claim: the claimer reads the topic until it sees this. */
  nonce: string;
  claimedAt: string;
  expression: string;
  timezone: string;
  topic: string;
}

export type ScheduleRecord = ScheduleState | ScheduleClaim;

const claimSuffix = '#leader';

export function stateMessage(state: Omit<ScheduleState, 'kind'>): Message {
  return { key: state.schedule, value: JSON.stringify({ kind: 'state', ...state }) };
}

export function claimMessage(claim: Omit<ScheduleClaim, 'kind'>): Message {
  return { key: `${claim.schedule}${claimSuffix}`, value: JSON.stringify({ kind: 'claim', ...claim }) };
}

/** A record of the schedule topic, or undefined for anything that is not one (never throws). */
export function parseScheduleRecord(value: Buffer | null): ScheduleRecord | undefined {
  if (value === null || value.length > 64 * 1024) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  if (typeof record.schedule !== 'string') return undefined;
  if (record.kind === 'state' && typeof record.lastSlot === 'string' && !Number.isNaN(Date.parse(record.lastSlot))) return record as unknown as ScheduleState;
  if (record.kind === 'claim' && typeof record.nonce === 'string') return record as unknown as ScheduleClaim;
  return undefined;
}
