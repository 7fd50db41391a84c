import { describe, expect, it } from 'vitest';
import { verifyLedger } from '../../../examples/ledger/ledger-verifier.ts';
import type { LedgerSnapshot } from '../../../examples/ledger/ledger-store.ts';

const published = (dueAt?: number) => ({ eventId: 'e1', accountId: 'a', sequence: 1, type: 'AccountOpened' as const, amountMinor: 0, fault: 'none' as const, occurredAt: 1_000, runId: 'r', ...(dueAt === undefined ? {} : { dueAt }) });
const applied = (appliedAt: number) => ({ appliedId: 1, eventId: 'e1', accountId: 'a', sequence: 1, amountMinor: 0, appliedAt });
const snapshot = (dueAt: number | undefined, appliedAt: number): LedgerSnapshot => ({ published: [published(dueAt)], applied: [applied(appliedAt)], accounts: [{ accountId: 'a', balance: 0 }] });
const earlyCheck = (report: ReturnType<typeof verifyLedger>) => report.checks.find((check) => check.name.includes('due time'))!;

describe('demo verify: delayed events', () => {
  it('fails an event applied before its due time', () => {
    const report = verifyLedger(snapshot(5_000, 4_999), []);
    expect(earlyCheck(report).violations).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('passes one applied at or after it, and events with no due time', () => {
    expect(verifyLedger(snapshot(5_000, 5_000), []).ok).toBe(true);
    expect(earlyCheck(verifyLedger(snapshot(undefined, 10), [])).violations).toBe(0);
  });
});
