// Invariant: on a three-node cluster, with a random fault every 20 s (leader SIGKILL, rolling restart, a broker frozen 30 s, two brokers down 30 s, the controller quorum leader SIGKILLed) for the whole run while the ledger demo runs round after round with chaos on its workers and a chaos workload runs beside it: every demo round verifies (its own PostgreSQL check), and the workload counts 0 lost, 0 duplicate effects, 0 order violations, 0 commits past an incomplete record, lag 0 within 120 s of the last fault.
/**
 * `npm run test:soak -- --minutes 120` (a nightly job; default 2 minutes): a private `brokers: 3` stack in a
 * temporary folder (never the shared one), torn down at the end whatever happens. Prints per fault kind how many
 * were survived and the time to recover, the send latency during faults and outside them, and writes it all
 * to `test/soak/results/soak-<minutes>m.json`. Exits 1 when a demo round or the workload fails.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { ChaosRun, sleep } from '../chaos/support/chaos-run.ts';
import { clusterFaultKinds, injectClusterFault, sendLatencies, type ClusterFaultKind, type FaultOutcome } from '../chaos/support/cluster-faults.ts';
import { PrivateStack } from '../chaos/support/private-stack.ts';
import { sharedSettings } from '../chaos/support/scenario-main.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, 'fault-every-seconds': { type: 'string', default: '20' } } });
const minutes = Number(values.minutes);
const faultEveryMs = Number(values['fault-every-seconds']) * 1_000;
if (!(minutes > 0) || !(faultEveryMs > 0)) throw new Error('--minutes and --fault-every-seconds must be positive numbers');
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);
const startedAt = Date.now();
const loadAtStart = loadavg();

interface DemoRound {
  round: number;
  exitCode: number | null;
  /** Still running after 5 minutes: killed. */
  hung: boolean;
  durationMs: number;
  tail: string;
}

let demoGroup: number | undefined;
function killGroup(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** One `orderly demo run --chaos` against the cluster, on its own topic and group. */
function demoRound(round: number, env: NodeJS.ProcessEnv): Promise<DemoRound> {
  const roundStartedAt = Date.now();
  const name = `soak-${startedAt.toString(36)}-${round}`;
  const args = ['cli/bin.ts', 'demo', 'run', '--topic', name, '--group', `${name}-group`, '--events', '3000', '--keys', '300', '--partitions', '6', '--workers', '2', '--chaos', '--chaos-every-seconds', '15', '--stall-timeout-seconds', '240'];
  return new Promise((resolve) => {
    // Its own process group: a hung round is killed with its workers.
    const child = spawn(process.execPath, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    demoGroup = child.pid;
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4_000)));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4_000)));
    // 3,000 events take well under a minute, and the demo gives up by itself after 240 s without progress: a round
    // still running after 5 minutes hangs (killed, with its workers, and counted as failed).
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      killGroup(child.pid);
    }, 5 * 60_000);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      demoGroup = undefined;
      resolve({ round, exitCode, hung, durationMs: Date.now() - roundStartedAt, tail: output.split('\n').filter(Boolean).slice(-6).join('\n') });
    });
  });
}

const stack = new PrivateStack(sharedSettings(), log, undefined, 3);
let run: ChaosRun | undefined;
let stopping = false;
let exitCode: number | undefined;
try {
  const settings = await stack.up();
  log(`private three-node stack up in ${stack.dir}: kafka ${settings.KAFKA_BROKERS}; ${minutes} min, a random fault every ${faultEveryMs / 1000} s`);
  run = new ChaosRun({ settings, partitions: 6, memberEnv: { HANDLER_DELAY_MS: '2' }, sendAttempts: 600, log });
  await run.setUp();
  for (let member = 0; member < 2; member++) run.members.start();
  const chaos = run;
  const producing = (async () => {
    while (!stopping) await chaos.produce(200, 500, 10_000, 10);
  })();
  const demoEnv: NodeJS.ProcessEnv = { ...process.env, ...settings };
  const rounds: DemoRound[] = [];
  const demos = (async () => {
    for (let round = 1; !stopping; round++) {
      rounds.push(await demoRound(round, demoEnv));
      log(`demo round ${round}: exit ${rounds.at(-1)!.exitCode} after ${rounds.at(-1)!.durationMs} ms`);
    }
  })();

  // The minutes count from here: the cluster's start (30-60 s) is not part of the soak.
  const endAt = Date.now() + minutes * 60_000;
  const outcomes: FaultOutcome[] = [];
  const failedFaults: { kind: ClusterFaultKind; error: string }[] = [];
  await sleep(Math.min(15_000, faultEveryMs));
  while (Date.now() < endAt) {
    const nextAt = Date.now() + faultEveryMs;
    const kind = clusterFaultKinds[Math.floor(Math.random() * clusterFaultKinds.length)]!;
    try {
      const outcome = await injectClusterFault(kind, { stack, run, log });
      outcomes.push(outcome);
      log(`fault ${outcomes.length} ${kind} on node(s) ${outcome.nodes.join(',')}: whole again after ${outcome.recoverMs} ms`);
    } catch (error) {
      failedFaults.push({ kind, error: (error as Error).message });
      log(`fault ${kind} could not be injected or recovered: ${(error as Error).message}`);
      await stack.restart(); // bring back whatever is down before the next one
    }
    if (nextAt > Date.now()) await sleep(Math.min(nextAt, endAt) - Date.now());
  }
  stopping = true;
  log('time is up: waiting for the demo round in flight and the workload to drain');
  await demos;
  await producing;
  const result = await run.finish('soak', 'random cluster faults every 20 s while the demo and the workload run', {}, {});
  const recoverMsByKind: Record<string, { count: number; maxMs: number; medianMs: number }> = {};
  for (const kind of clusterFaultKinds) {
    const times = outcomes.filter((outcome) => outcome.kind === kind).map(({ recoverMs }) => recoverMs).sort((a, b) => a - b);
    if (times.length > 0) recoverMsByKind[kind] = { count: times.length, maxMs: times.at(-1)!, medianMs: times[Math.floor(times.length / 2)]! };
  }
  const demoFailures = rounds.filter(({ exitCode: code }) => code !== 0);
  const passed = result.passed && demoFailures.length === 0 && failedFaults.length === 0 && rounds.length > 0;
  const summary = {
    goal: 'every fault survived: 0 lost, 0 duplicate effects, 0 order violations, lag 0 within 120 s of the last fault; every demo round verifies',
    met: passed,
    minutes,
    faultEverySeconds: faultEveryMs / 1000,
    faultsSurvived: outcomes.length,
    failedFaults,
    recoverMsByKind,
    sendLatency: sendLatencies(run, outcomes),
    sendErrors: run.sendErrors,
    workload: { events: result.events, counters: result.counters, drainedAfterLastFaultMs: result.details.drainedAfterLastFaultMs, memberCrashes: result.details.memberCrashes },
    demoRounds: rounds.map(({ round, exitCode: code, hung, durationMs }) => ({ round, exitCode: code, hung, durationMs })),
    demoFailures: demoFailures.map(({ round, tail }) => ({ round, tail })),
    setup: { cpus: cpus().length, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg(), wallMs: Date.now() - startedAt, brokers: '3 combined broker+controller KRaft nodes, -Xmx512m each, RF 3, min ISR 2' },
  };
  const resultsDir = join(projectRoot, 'test/soak/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `soak-${minutes}m.json`), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\nsoak ${passed ? 'PASSED' : 'FAILED'}\n`);
  exitCode = passed ? 0 : 1;
} catch (error) {
  log(`soak failed to run: ${(error as Error).stack ?? String(error)}`);
  exitCode = 2;
} finally {
  stopping = true;
  killGroup(demoGroup);
  await run?.tearDown().catch(() => undefined);
  await stack.down();
}
process.exit(exitCode ?? 2);
