/**
 * `orderly demo`: the whole ledger demo in one command. It creates the topics and tables, starts the worker
 * processes, publishes the events, shows the progress (and with chaos SIGKILLs a random worker every few
 * seconds, starting a new one), waits until every event is applied or dead-lettered, stops the workers and
 * prints the verify summary. Resolves to the exit code: 0 when every check holds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { topicLayoutOf } from '../../consumers/retries/topic-layout.ts';
import { demoRetryTiersMs, type DemoConnections, type ValidDemoOptions } from './demo-options.ts';
import { verifyDemo } from './demo-verification.ts';
import { recordsWritten } from './dead-letter-reader.ts';
import { ensureDemoTopics, produceLedgerEvents, type ProduceResult } from './ledger-producer.ts';
import { ensureDemoOutbox } from './outbox-ledger-producer.ts';
import type { LedgerStore } from './ledger-store.ts';
import type { VerificationReport } from './ledger-verifier.ts';
import { ProgressDisplay } from './progress-display.ts';
import { formatVerification } from './verification-summary.ts';
import { WorkerPool, type WorkerCommand } from './worker-pool.ts';

/**
 * How often the run reads its progress: the end of the processing is seen within this (plus the reads), and the
 * chaos kills are timed by it.
 */
const progressEveryMs = 250;
/** The window of the rate shown. */
const rateWindowMs = 6_000;

/** How long the run waits, once all looks handled, for stragglers the verifier still misses. */
const settleTimeoutMs = 60_000;

/**
 * How long the run waits at its end for the producer to close once every event is published: on a heavily
 * loaded machine its close was seen to hang after the last event was acknowledged, and the run with it.
 */
const producerCloseTimeoutMs = 15_000;

/** Relay processes of a `--via-outbox` run. */
const outboxRelays = 2;

/** @param relayCommand the `orderly outbox relay` processes of a `viaOutbox` run. */
export async function runLedgerDemo(connections: DemoConnections, store: LedgerStore, options: ValidDemoOptions, workerCommand: WorkerCommand, relayCommand?: WorkerCommand): Promise<number> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const { topic, group } = options;
  print(
    `ledger demo: ${options.events.toLocaleString('en-US')} events over ${options.keys.toLocaleString('en-US')} accounts, ` +
      `${options.failRate * 100}% failing transiently, ${options.poisonRate * 100}% poison; ${options.workers} workers` +
      `${options.viaOutbox ? `; through the outbox, ${outboxRelays} relays` : ''}` +
      `${options.chaos ? `, chaos: SIGKILL a worker${options.viaOutbox ? ' and a relay' : ''} every ${options.chaosEverySeconds} s` : ''}`,
  );
  print(`  topic ${topic} (retry tiers ${demoRetryTiersMs.map((ms) => `${ms / 1000} s`).join(', ')}, DLT ${topicLayoutOf(topic, group, 0).deadLetter}), group ${group}, ${store.description}`);
  await ensureDemoTopics(connections, options);
  await store.setup();
  if (options.viaOutbox && !relayCommand) throw new Error('runLedgerDemo: viaOutbox needs the relay command');
  if (options.viaOutbox) await ensureDemoOutbox(connections, options);
  const kafka = createKafkaClient({ brokers: connections.kafkaBrokers.split(','), clientId: 'ledger-demo-progress' });
  const layout = topicLayoutOf(topic, group, demoRetryTiersMs.length);
  // Read before the workers start; like the progress reads below, tried again while a cluster node is away (2 minutes at most).
  const before = await triedAgainFor(120_000, async () => ({ ...(await store.counts()), retried: await recordsWritten(kafka, layout.retries), deadLettered: await recordsWritten(kafka, [layout.deadLetter]) }));

  const display = new ProgressDisplay();
  const pool = new WorkerPool(workerCommand, (line) => display.note(line));
  const relays = options.viaOutbox ? new WorkerPool(relayCommand!, (line) => display.note(`outbox relays: ${line}`)) : undefined;
  const interrupt = () => {
    display.finish();
    print('interrupted: stopping the workers');
    pool.killAll();
    relays?.killAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  const startedAt = Date.now();
  pool.start(options.workers);
  relays?.start(outboxRelays);

  let published = 0;
  let produced: ProduceResult | undefined;
  let produceError: unknown;
  const producing = produceLedgerEvents(connections, store, options, (count) => (published = count), 'external').then(
    (result) => (produced = result),
    (error: unknown) => (produceError = error),
  );

  const samples: { at: number; applied: number }[] = [];
  let lastChange = Date.now();
  let lastTotal = -1;
  let nextKillAt = startedAt + options.chaosEverySeconds * 1000;
  let stalled = false;
  let readFailures = 0;
  /** When the progress read first saw every event applied or dead-lettered: the end of the processing. */
  let handledAt: number | undefined;
  for (;;) {
    await sleep(progressEveryMs);
    let counts: Awaited<ReturnType<typeof store.counts>>;
    let retried: number;
    let deadLetteredTotal: number;
    try {
      counts = await store.counts();
      retried = (await recordsWritten(kafka, layout.retries)) - before.retried;
      deadLetteredTotal = await recordsWritten(kafka, [layout.deadLetter]);
    } catch (error) {
      // A broker of a cluster down for a moment (its partitions not yet led elsewhere): the progress waits, the
      // stall timeout is the way out, and the workers are never left running behind a crash.
      if (++readFailures === 1 || readFailures % 10 === 0) display.note(`progress not readable (${(error as Error).message}); retrying`);
      if (Date.now() - lastChange > options.stallTimeoutSeconds * 1000) {
        pool.killAll();
        throw error;
      }
      continue;
    }
    const now = Date.now();
    const applied = counts.applied - before.applied;
    samples.push({ at: now, applied });
    while (samples.length > 2 && now - samples[1]!.at >= rateWindowMs) samples.shift();
    const oldest = samples[0]!;
    const ratePerSecond = now > oldest.at ? ((applied - oldest.applied) * 1000) / (now - oldest.at) : 0;
    display.update({ elapsedMs: now - startedAt, published, events: options.events, applied, retried, deadLettered: deadLetteredTotal - before.deadLettered, ratePerSecond, workers: pool.alive, kills: pool.killed });
    if (produceError !== undefined) break;
    const total = counts.applied + deadLetteredTotal;
    if (total !== lastTotal) [lastTotal, lastChange] = [total, now];
    // Every event published (and recorded) is enough: the producer's close is not waited for here.
    if ((produced || published >= options.events) && total >= counts.published) {
      handledAt = now;
      break;
    }
    if (now - lastChange > options.stallTimeoutSeconds * 1000) {
      stalled = true;
      break;
    }
    if (options.chaos && now >= nextKillAt) {
      const note = pool.killRandom();
      if (note) display.note(note);
      const relayNote = relays?.killRandom();
      if (relayNote) display.note(`outbox relays: ${relayNote}`);
      nextKillAt = now + options.chaosEverySeconds * 1000;
    }
  }
  display.update({ elapsedMs: Date.now() - startedAt, published, events: options.events, applied: (await store.counts()).applied - before.applied, retried: (await recordsWritten(kafka, layout.retries)) - before.retried, deadLettered: (await recordsWritten(kafka, [layout.deadLetter])) - before.deadLettered, ratePerSecond: 0, workers: pool.alive, kills: pool.killed }, true);
  display.finish();
  if (produceError !== undefined) {
    pool.killAll();
    relays?.killAll();
    throw produceError;
  }
  if (stalled) print(`nothing was applied or dead-lettered for ${options.stallTimeoutSeconds} s: giving up and verifying what there is`);

  let report: VerificationReport = await verifyDemo(connections, store, options);
  const settleUntil = Date.now() + settleTimeoutMs;
  while (!stalled && report.missing > 0 && Date.now() < settleUntil) {
    await sleep(2_000); // a duplicate DLT record may have counted an event still in flight
    report = await verifyDemo(connections, store, options);
  }
  const closed = await Promise.race([producing.then(() => true), sleep(producerCloseTimeoutMs, false)]);
  if (!closed) print(`the producer had not closed ${producerCloseTimeoutMs / 1000} s after its last event was published: not waiting for it`);
  // The processing ended when the progress saw it; the verification and the producer's close come after.
  const wallMs = (handledAt ?? Date.now()) - startedAt;
  const verifiedInMs = handledAt === undefined ? undefined : Date.now() - handledAt;
  await pool.stop();
  await relays?.stop();
  process.removeListener('SIGINT', interrupt);
  print('');
  for (const line of formatVerification(report, { topic, group, database: store.description })) print(line);
  print(
    `\ndemo: ${options.events.toLocaleString('en-US')} events published in ${((produced?.durationMs ?? 0) / 1000).toFixed(1)} s, all handled ${(wallMs / 1000).toFixed(1)} s after the workers started; ` +
      `${pool.killed} worker(s) SIGKILLed by chaos, ${pool.crashed} crashed on their own` +
      `${relays ? `; ${relays.killed} outbox relay(s) SIGKILLed, ${relays.crashed} crashed` : ''}` +
      `${verifiedInMs === undefined ? '' : ` (verified ${(verifiedInMs / 1000).toFixed(1)} s later)`}`,
  );
  return report.ok ? 0 : 1;
}

/** `step`, tried again each 2 s while it fails, for up to `patienceMs` (each failure said on stderr). */
async function triedAgainFor<T>(patienceMs: number, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      process.stderr.write(`reading the starting counts failed (${(error as Error).message}); trying again\n`);
      await sleep(2_000);
    }
  }
}
