/** The verify summary as a table of text lines (no payloads: counts, account ids, sequences and event ids). */
import type { VerificationReport } from './ledger-verifier.ts';

const count = (value: number): string => value.toLocaleString('en-US');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

export function formatVerification(report: VerificationReport, where: { topic: string; group: string; database: string }): string[] {
  const reasons = [...report.reasons].map(([reason, total]) => `${reason} ${count(total)}`).join(', ') || 'none';
  const lines = [
    `ledger verify: topic ${where.topic}, group ${where.group}, ${where.database}`,
    '',
    `  published         ${count(report.published).padStart(9)}  over ${count(report.accounts)} accounts (${count(report.transient)} marked transient, ${count(report.poison)} poison)`,
    `  applied once      ${count(report.applied).padStart(9)}`,
    `  dead-lettered     ${count(report.deadLettered).padStart(9)}  reasons: ${reasons}; ${count(report.deadLetterRecords)} DLT record(s)`,
    `  not yet handled   ${count(report.missing).padStart(9)}`,
    '',
    `  ${'check'.padEnd(76)} result`,
  ];
  for (const check of report.checks) {
    lines.push(`  ${check.name.padEnd(76)} ${check.violations === 0 ? 'ok' : `FAILED (${count(check.violations)})`}`);
    for (const example of check.examples) lines.push(`      ${example}`);
  }
  const run = report.latestRun;
  if (run) {
    lines.push(
      '',
      `  latest run ${run.runId}: ${count(run.applied)} of ${count(run.events)} events applied in ${seconds(run.durationMs)} (first occurred-at to last applied_at)`,
      `  throughput        ${count(Math.round(run.eventsPerSecond)).padStart(9)} events/s`,
      `  latency           p50 ${seconds(run.latencyMs.p50)}  p90 ${seconds(run.latencyMs.p90)}  p99 ${seconds(run.latencyMs.p99)}  max ${seconds(run.latencyMs.max)}  (occurred-at to applied_at)`,
    );
  }
  lines.push('', report.ok ? 'VERIFIED: every guarantee holds' : `VIOLATIONS: ${report.checks.filter((check) => check.violations > 0).length} check(s) failed`);
  return lines;
}
