/**
 * `npm run test:chaos [-- name ...]`: runs every scenario (test/chaos/*.chaos.ts, or those whose name contains
 * one of the arguments) one after another, each in its own process with a hard time limit (its process group
 * is SIGKILLed past it), and prints per scenario the events, the faults injected and the five counters that
 * must be 0. Exits 1 when any scenario failed, ran out of time or crashed.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import type { ScenarioResult } from './support/chaos-run.ts';
import { resultPrefix } from './support/scenario-main.ts';

const timeLimitMs = Number(process.env.CHAOS_TIME_LIMIT_MS ?? 15 * 60_000);
const filters = process.argv.slice(2);
const scenarios = readdirSync(`${projectRoot}/test/chaos`)
  .filter((file) => file.endsWith('.chaos.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

function runScenario(file: string): Promise<{ result?: ScenarioResult; outcome: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`test/chaos/${file}`], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    let result: ScenarioResult | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith(resultPrefix)) result = JSON.parse(line.slice(resultPrefix.length)) as ScenarioResult;
      else process.stdout.write(`${line}\n`);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, 'SIGKILL'); // the scenario and the members it started
    }, timeLimitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const outcome = timedOut ? `TIMED OUT after ${timeLimitMs / 1000} s` : result ? (result.passed ? 'passed' : 'FAILED') : `CRASHED (exit ${code})`;
      resolve({ result, outcome });
    });
  });
}

function describe(file: string, outcome: string, result: ScenarioResult | undefined): string {
  if (!result) return `${file}: ${outcome}`;
  const faults = Object.entries(result.faults).map(([name, count]) => `${name}=${count}`).join(', ');
  const counters = Object.entries(result.counters).map(([name, count]) => `${name}=${count}`).join(', ');
  return [
    `${file}: ${outcome} in ${(result.durationMs / 1000).toFixed(0)} s`,
    `  events ${result.events} over ${result.keys} keys, ${result.partitions} partitions; faults: ${faults}`,
    `  must be 0: ${counters}`,
    `  details: ${JSON.stringify(result.details)}`,
  ].join('\n');
}

let failed = 0;
const summary: string[] = [];
for (const file of scenarios) {
  process.stdout.write(`=== ${file} (time limit ${timeLimitMs / 1000} s)\n`);
  const { result, outcome } = await runScenario(file);
  if (outcome !== 'passed') failed++;
  summary.push(describe(file, outcome, result));
  process.stdout.write(`${summary.at(-1)}\n`);
}
process.stdout.write(`\n=== chaos summary: ${scenarios.length - failed} of ${scenarios.length} passed\n${summary.join('\n')}\n`);
process.exit(failed === 0 && scenarios.length > 0 ? 0 : 1);
