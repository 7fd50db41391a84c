// Invariant: with the broker frozen (SIGSTOP), SIGTERM ends `orderly demo work` within shutdownTimeoutMs + 5 s, and once the broker is back every event is applied exactly once in per-key order (nothing past an incomplete record was committed).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { demoShutdownTimeoutMs } from '../../examples/ledger/ledger-worker.ts';
import { openLedgerStore } from '../../examples/ledger/open-ledger-store.ts';
import { chaosName, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateBroker } from './support/private-broker.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface ShutdownFrozenBrokerParameters {
  events: number;
  keys: number;
  partitions: number;
  /** Freeze, SIGTERM, thaw: this many times, each with a new worker. */
  cycles: number;
}

export const fullShutdownFrozenBroker: ShutdownFrozenBrokerParameters = { events: 6_000, keys: 300, partitions: 6, cycles: 3 };

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Runs `orderly <args>` against the private broker and the shared registry, Redis and PostgreSQL. */
function orderly(args: string[], env: NodeJS.ProcessEnv, name: string): ChildProcess {
  const child = spawn(process.execPath, ['cli/bin.ts', ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let started: () => void = () => undefined;
  workingOf.set(child, new Promise<void>((resolve) => (started = resolve)));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (/ working on /.test(line)) started();
      if (lines++ < 40 && !/TimeoutNegativeWarning|--trace-warnings/.test(line)) log(`[${name}] ${line}`);
    });
  }
  return child;
}

/** Resolves when `orderly demo work` printed that it is working: its consumer started and its SIGTERM handler is set. */
const workingOf = new WeakMap<ChildProcess, Promise<void>>();

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function shutdownFrozenBrokerScenario(shared: StackSettings, parameters: ShutdownFrozenBrokerParameters = fullShutdownFrozenBroker): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const broker = new PrivateBroker();
  const topic = chaosName('chaos-shutdown');
  const group = chaosName('chaos-shutdown-group');
  const workers: ChildProcess[] = [];
  if (!shared.SCHEMA_REGISTRY_URL) throw new Error('the shared stack has no schema registry (SCHEMA_REGISTRY_URL)');
  try {
    const brokers = await broker.up(log);
    log(`private broker up at ${brokers} (${broker.dir}); topic ${topic}, group ${group}`);
    const env = { ...process.env, KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: shared.SCHEMA_REGISTRY_URL, REDIS_URL: shared.REDIS_URL, DATABASE_URL: shared.DATABASE_URL, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
    const where = ['--topic', topic, '--group', group];
    const produced = await exited(
      orderly(['demo', 'produce', ...where, '--events', String(parameters.events), '--keys', String(parameters.keys), '--partitions', String(parameters.partitions), '--fail-rate', '0.01', '--poison-rate', '0'], env, 'produce'),
    );
    if (produced.code !== 0) throw new Error(`demo produce failed (${JSON.stringify(produced)})`);
    const store = openLedgerStore(shared.DATABASE_URL, topic, group, 2);
    const boundMs = demoShutdownTimeoutMs + 5_000;
    const exitMs: number[] = [];
    const exits: string[] = [];
    try {
      for (let cycle = 1; cycle <= parameters.cycles; cycle++) {
        const worker = orderly(['demo', 'work', ...where, '--member', `frozen-${cycle}`], env, `worker-${cycle}`);
        workers.push(worker);
        // A worker still starting (loading, joining) has no SIGTERM handler yet: the cycle is about a working one.
        // Once every event was applied an earlier cycle's target is met at once, so this wait is what keeps the
        // SIGTERM after the start.
        const working = await Promise.race([workingOf.get(worker)!.then(() => true), sleep(120_000).then(() => false)]);
        if (!working) throw new Error(`worker ${cycle} did not start working within 120 s`);
        const before = (await store.counts()).applied;
        const target = Math.min(parameters.events, before + Math.ceil(parameters.events / (parameters.cycles + 1)));
        const deadline = Date.now() + 120_000;
        while ((await store.counts()).applied < target && Date.now() < deadline) await sleep(200);
        broker.signal('SIGSTOP');
        await sleep(1_000); // requests in flight now wait on a broker that does not answer
        const termAt = Date.now();
        worker.kill('SIGTERM');
        const ended = await Promise.race([exited(worker), sleep(boundMs + 30_000).then(() => undefined)]);
        const tookMs = Date.now() - termAt;
        exitMs.push(tookMs);
        exits.push(ended ? `code ${ended.code}${ended.signal ? ` signal ${ended.signal}` : ''}` : 'still running');
        log(`cycle ${cycle}/${parameters.cycles}: applied ${(await store.counts()).applied} of ${parameters.events}; broker frozen, SIGTERM; worker ${ended ? `exited (${exits.at(-1)})` : 'STILL RUNNING'} after ${tookMs} ms (bound ${boundMs} ms)`);
        if (!ended) worker.kill('SIGKILL');
        broker.signal('SIGCONT');
        await sleep(2_000);
      }
      // Drain with the broker alive, then stop cleanly and verify from the database and the DLT.
      const drainer = orderly(['demo', 'work', ...where, '--member', 'drainer'], env, 'drainer');
      workers.push(drainer);
      const deadline = Date.now() + 240_000;
      while ((await store.counts()).applied < parameters.events && Date.now() < deadline) await sleep(500);
      await sleep(3_000); // the retry tiers (1 s, 5 s) settle; a late duplicate would land now
      drainer.kill('SIGTERM');
      await exited(drainer);
      const verifyLines: string[] = [];
      const verifier = orderly(['demo', 'verify', ...where], env, 'verify');
      createInterface({ input: verifier.stdout! }).on('line', (line) => verifyLines.push(line));
      const verified = await exited(verifier);
      const { applied } = await store.counts();
      const withinBound = exitMs.every((ms) => ms <= boundMs) && exits.every((exit) => exit === 'code 0');
      // demo verify checks the database and the DLT: each of its checks that is not 'ok' counts once.
      const failed = (check: string) => (verifyLines.find((line) => line.includes(check))?.trimEnd().endsWith('ok') ? 0 : 1);
      const counters = {
        eventsLost: Math.max(0, parameters.events - applied) + failed('every published event applied or dead-lettered'),
        duplicateEffects: failed('no event applied more than once'),
        orderViolations: failed("each account's applied sequences increase"),
        // A commit past an incomplete record loses that record: it shows as a lost event (above) and fails verify.
        commitsPastIncomplete: verified.code === 0 ? 0 : 1,
        stuckPartitions: applied >= parameters.events ? 0 : 1,
      };
      return {
        scenario: 'shutdown-frozen-broker',
        invariant: 'broker frozen: SIGTERM ends demo work within shutdownTimeoutMs + 5 s; exactly once, in order, after the thaw',
        events: parameters.events,
        keys: parameters.keys,
        partitions: parameters.partitions,
        faults: { brokerFreezes: parameters.cycles, sigterms: parameters.cycles },
        counters,
        details: { shutdownTimeoutMs: demoShutdownTimeoutMs, boundMs, exitAfterSigtermMs: exitMs, exits, applied, verifyExit: verified.code, verify: verifyLines.slice(0, 30) },
        durationMs: Date.now() - startedAt,
        passed: withinBound && verified.code === 0 && Object.values(counters).every((value) => value === 0),
      };
    } finally {
      await store.close();
    }
  } finally {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await broker.down();
  }
}

await runAsMain(import.meta, (settings) => shutdownFrozenBrokerScenario(settings));
