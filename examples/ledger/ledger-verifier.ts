/**
 * `orderly demo verify`: checks a ledger run from the database and the DLT alone. Every published event was
 * applied exactly once or dead-lettered with a reason (never both); each account's applied sequences increase
 * in the order they were applied; each balance equals the sum of its applied events, and each applied row
 * matches what was published. Also reports throughput and end-to-end latency (occurred-at to applied_at) of
 * the latest run.
 */
import type { DeadLetterRecord } from './dead-letter-reader.ts';
import type { LedgerSnapshot, PublishedLedgerRow } from './ledger-store.ts';

export interface VerificationCheck {
  name: string;
  violations: number;
  /** Up to five of them, for people. */
  examples: string[];
}

export interface RunFigures {
  runId: string;
  events: number;
  applied: number;
  /** From the first event's occurred-at to the last applied_at of the run. */
  durationMs: number;
  eventsPerSecond: number;
  /** End to end, occurred-at to applied_at, in ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

export interface VerificationReport {
  published: number;
  accounts: number;
  transient: number;
  poison: number;
  applied: number;
  /** Distinct events on the DLT. */
  deadLettered: number;
  /** Records on the DLT (a crash between forward and completion may leave two of one event). */
  deadLetterRecords: number;
  reasons: Map<string, number>;
  /** Published events neither applied nor dead-lettered (yet). */
  missing: number;
  checks: VerificationCheck[];
  ok: boolean;
  latestRun: RunFigures | undefined;
}

class CheckBuilder {
  readonly check: VerificationCheck;
  constructor(name: string) {
    this.check = { name, violations: 0, examples: [] };
  }
  fail(example: string): void {
    this.check.violations++;
    if (this.check.examples.length < 5) this.check.examples.push(example);
  }
}

function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
}

export function verifyLedger(snapshot: LedgerSnapshot, deadLetters: readonly DeadLetterRecord[]): VerificationReport {
  const published = new Map<string, PublishedLedgerRow>(snapshot.published.map((row) => [row.eventId, row]));
  const appliedCount = new Map<string, number>();
  for (const row of snapshot.applied) appliedCount.set(row.eventId, (appliedCount.get(row.eventId) ?? 0) + 1);
  const dead = new Set<string>();
  const reasons = new Map<string, number>();
  const withReason = new CheckBuilder('every dead letter has an event id and a reason');
  for (const record of deadLetters) {
    if (!record.eventId || !record.reason) withReason.fail(`DLT partition ${record.partition} offset ${record.offset}`);
    if (record.eventId && !dead.has(record.eventId)) {
      dead.add(record.eventId);
      reasons.set(record.reason ?? 'none', (reasons.get(record.reason ?? 'none') ?? 0) + 1);
    }
  }

  const handled = new CheckBuilder('every published event applied or dead-lettered');
  const both = new CheckBuilder('no event both applied and dead-lettered');
  const outcome = new CheckBuilder('poison events dead-lettered, every other event applied');
  for (const row of published.values()) {
    const applied = appliedCount.has(row.eventId);
    if (!applied && !dead.has(row.eventId)) handled.fail(`${row.accountId} #${row.sequence} (${row.eventId})`);
    if (applied && dead.has(row.eventId)) both.fail(`${row.accountId} #${row.sequence} (${row.eventId})`);
    if ((row.fault === 'poison') !== dead.has(row.eventId) && (applied || dead.has(row.eventId))) {
      outcome.fail(`${row.accountId} #${row.sequence} (${row.fault}) was ${applied ? 'applied' : 'dead-lettered'}`);
    }
  }
  const once = new CheckBuilder('no event applied more than once');
  for (const [eventId, count] of appliedCount) if (count > 1) once.fail(`${eventId} applied ${count} times`);
  const known = new CheckBuilder('everything applied or dead-lettered was published');
  for (const eventId of new Set([...appliedCount.keys(), ...dead])) if (!published.has(eventId)) known.fail(eventId);

  const matches = new CheckBuilder('each applied row matches its published event (account, sequence, amount)');
  const order = new CheckBuilder("each account's applied sequences increase");
  const early = new CheckBuilder('no delayed event applied before its due time (applied_at >= due_at)');
  const sums = new Map<string, number>();
  const lastSequence = new Map<string, { sequence: number; eventId: string }>();
  for (const row of [...snapshot.applied].sort((a, b) => a.appliedId - b.appliedId)) {
    sums.set(row.accountId, (sums.get(row.accountId) ?? 0) + row.amountMinor);
    const source = published.get(row.eventId);
    if (source && (source.accountId !== row.accountId || source.sequence !== row.sequence || source.amountMinor !== row.amountMinor)) {
      matches.fail(`${row.eventId}: applied ${row.accountId} #${row.sequence} ${row.amountMinor}, published ${source.accountId} #${source.sequence} ${source.amountMinor}`);
    }
    if (source?.dueAt !== undefined && row.appliedAt < source.dueAt) early.fail(`${row.accountId} #${row.sequence}: applied ${row.appliedAt - source.dueAt} ms before its due time`);
    const previous = lastSequence.get(row.accountId);
    if (previous && row.sequence <= previous.sequence) order.fail(`${row.accountId}: #${row.sequence} applied after #${previous.sequence}`);
    lastSequence.set(row.accountId, { sequence: row.sequence, eventId: row.eventId });
  }
  const balances = new CheckBuilder('each balance equals the sum of its applied events');
  const balanceOf = new Map(snapshot.accounts.map((row) => [row.accountId, row.balance]));
  for (const accountId of new Set([...sums.keys(), ...balanceOf.keys()])) {
    const expected = sums.get(accountId) ?? 0;
    const actual = balanceOf.get(accountId);
    if (actual !== expected) balances.fail(`${accountId}: balance ${actual ?? 'missing'}, applied events sum to ${expected}`);
  }

  const checks = [handled, once, both, known, withReason, outcome, order, early, matches, balances].map((builder) => builder.check);
  return {
    published: published.size,
    accounts: new Set(snapshot.published.map((row) => row.accountId)).size,
    transient: snapshot.published.filter((row) => row.fault === 'transient').length,
    poison: snapshot.published.filter((row) => row.fault === 'poison').length,
    applied: appliedCount.size,
    deadLettered: dead.size,
    deadLetterRecords: deadLetters.length,
    reasons,
    missing: handled.check.violations,
    checks,
    ok: checks.every((check) => check.violations === 0),
    latestRun: latestRunFigures(snapshot),
  };
}

function latestRunFigures(snapshot: LedgerSnapshot): RunFigures | undefined {
  let runId: string | undefined;
  for (const row of snapshot.published) if (runId === undefined || row.runId > runId) runId = row.runId;
  if (runId === undefined) return undefined;
  const events = new Map(snapshot.published.filter((row) => row.runId === runId).map((row) => [row.eventId, row]));
  const latencies: number[] = [];
  let firstOccurred = Infinity;
  let lastApplied = -Infinity;
  for (const row of events.values()) firstOccurred = Math.min(firstOccurred, row.occurredAt);
  for (const row of snapshot.applied) {
    const source = events.get(row.eventId);
    if (!source) continue;
    latencies.push(row.appliedAt - source.occurredAt);
    lastApplied = Math.max(lastApplied, row.appliedAt);
  }
  latencies.sort((a, b) => a - b);
  const durationMs = latencies.length > 0 ? Math.max(1, lastApplied - firstOccurred) : 0;
  return {
    runId,
    events: events.size,
    applied: latencies.length,
    durationMs,
    eventsPerSecond: durationMs > 0 ? (latencies.length * 1000) / durationMs : 0,
    latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
  };
}
