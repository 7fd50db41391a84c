/**
 * The faults of the three-node cluster scenarios (and of the soak), each against a private `brokers: 3` stack
 * while a {@link ChaosRun} produces and its members consume: the leader of the busiest partition SIGKILLed, a
 * rolling restart, one broker frozen, two brokers down at once, the controller quorum's leader SIGKILLed. Each
 * returns when the cluster is whole again (every node up, every partition of the run's topic with a leader and
 * its full ISR) and says how long that took.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kafkaLibsDir, kafkaLog4jConfig } from '../../../infra/stack/stack-paths.ts';
import type { ChaosRun } from './chaos-run.ts';
import { sleep } from './chaos-run.ts';
import type { PrivateStack } from './private-stack.ts';

const run = promisify(execFile);

export type ClusterFaultKind = 'leader-kill' | 'rolling-restart' | 'broker-freeze' | 'two-down' | 'controller-kill';
export const clusterFaultKinds: readonly ClusterFaultKind[] = ['leader-kill', 'rolling-restart', 'broker-freeze', 'two-down', 'controller-kill'];

export interface ClusterFaultContext {
  stack: PrivateStack;
  run: ChaosRun;
  log: (line: string) => void;
}

export interface FaultOutcome {
  kind: ClusterFaultKind;
  /** When the fault was injected (epoch ms). */
  at: number;
  /** The nodes it hit. */
  nodes: number[];
  /** From the fault to the cluster whole again (all nodes up, every partition led, full ISR). */
  recoverMs: number;
  /** From the fault to the first event applied after it (consumption going on or resumed). */
  consumingAgainMs?: number;
  /** Fault-specific figures. */
  details?: Record<string, unknown>;
}

/** The partition of the run's topic with the most records, and its leader. */
export async function busiestPartition(run: ChaosRun): Promise<{ partition: number; leader: number }> {
  const offsets = await run.admin.fetchTopicOffsets(run.topic);
  const busiest = offsets.reduce((best, candidate) => (BigInt(candidate.high) > BigInt(best.high) ? candidate : best));
  const metadata = (await run.admin.fetchTopicMetadata({ topics: [run.topic] })).topics[0]!;
  const leader = metadata.partitions.find(({ partitionId }) => partitionId === busiest.partition)!.leader;
  return { partition: busiest.partition, leader };
}

/** The node that leads the KRaft controller quorum, as `kafka-metadata-quorum describe --status` reports it. */
export async function quorumLeader(bootstrap: string): Promise<number> {
  const { stdout } = await run(
    'java',
    ['-Xmx128m', `-Dlog4j2.configurationFile=${kafkaLog4jConfig}`, '-cp', `${kafkaLibsDir}/*`, 'org.apache.kafka.tools.MetadataQuorumCommand', '--bootstrap-server', bootstrap, 'describe', '--status'],
    { timeout: 60_000 },
  );
  const match = /LeaderId:\s+(\d+)/.exec(stdout);
  if (!match) throw new Error(`no LeaderId in the quorum status: ${stdout.slice(0, 300)}`);
  return Number(match[1]);
}

/** Waits until every partition of the run's topic has a leader and all three replicas in sync. */
export async function waitUntilWhole(run: ChaosRun, timeoutMs = 180_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const whole = await run.admin
      .fetchTopicMetadata({ topics: [run.topic] })
      .then(({ topics }) => topics[0]!.partitions.every(({ leader, isr }) => leader >= 0 && isr.length === 3))
      .catch(() => false);
    if (whole) return true;
    await sleep(500);
  }
  return false;
}

/** From now until the effects table counts more applied events than it does now. */
async function untilConsumingAgain(run: ChaosRun, since: number, timeoutMs = 180_000): Promise<number | undefined> {
  const before = await run.sink.appliedCount().catch(() => 0);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await run.sink.appliedCount().catch(() => before)) > before) return Date.now() - since;
    await sleep(250);
  }
  return undefined;
}

const bootstrapOf = (stack: PrivateStack, except: readonly number[] = []) =>
  stack
    .nodes()
    .filter(({ nodeId }) => !except.includes(nodeId))
    .map(({ port }) => `127.0.0.1:${port}`)
    .join(',');

async function whole(run: ChaosRun, at: number, log: (line: string) => void): Promise<number> {
  if (!(await waitUntilWhole(run))) log('the cluster was not whole again within 180 s');
  return Date.now() - at;
}

export async function injectClusterFault(kind: ClusterFaultKind, { stack, run, log }: ClusterFaultContext): Promise<FaultOutcome> {
  switch (kind) {
    case 'leader-kill': {
      const { partition, leader } = await busiestPartition(run);
      const at = Date.now();
      await stack.signalNode(leader, 'SIGKILL');
      const consuming = untilConsumingAgain(run, at);
      await sleep(2_000);
      const restartMs = await stack.startNodes([leader]);
      const recoverMs = await whole(run, at, log);
      return { kind, at, nodes: [leader], recoverMs, consumingAgainMs: await consuming, details: { partition, restartMs } };
    }
    case 'rolling-restart': {
      const at = Date.now();
      const perNodeMs: number[] = [];
      for (const { nodeId } of stack.nodes()) {
        const startedAt = Date.now();
        await stack.signalNode(nodeId, 'SIGTERM'); // a clean stop: leadership moves away first
        await stack.startNodes([nodeId]);
        await waitUntilWhole(run);
        perNodeMs.push(Date.now() - startedAt);
      }
      return { kind, at, nodes: stack.nodes().map(({ nodeId }) => nodeId), recoverMs: Date.now() - at, details: { perNodeMs } };
    }
    case 'broker-freeze': {
      const { leader } = await busiestPartition(run);
      const at = Date.now();
      await stack.signalNode(leader, 'SIGSTOP');
      const consuming = untilConsumingAgain(run, at);
      await sleep(30_000);
      await stack.signalNode(leader, 'SIGCONT');
      const recoverMs = await whole(run, at, log);
      return { kind, at, nodes: [leader], recoverMs, consumingAgainMs: await consuming, details: { frozenMs: 30_000 } };
    }
    case 'two-down': {
      const { leader } = await busiestPartition(run);
      const other = stack.nodes().find(({ nodeId }) => nodeId !== leader)!.nodeId;
      const at = Date.now();
      const publishedBefore = run.published;
      const errorsBefore = { ...run.sendErrors };
      await Promise.all([stack.signalNode(leader, 'SIGKILL'), stack.signalNode(other, 'SIGKILL')]);
      await sleep(30_000);
      const acknowledgedWhileDown = run.sends.filter((send) => send.at >= at && send.at + send.ms <= Date.now()).length;
      // One node back: two of three controllers again, partitions writable with min ISR 2.
      const backAt = Date.now();
      await stack.startNodes([leader]);
      const consumingAgainMs = await untilConsumingAgain(run, backAt);
      await stack.startNodes([other]);
      const recoverMs = await whole(run, at, log);
      const errorsWhileDown = Object.fromEntries(Object.entries(run.sendErrors).map(([type, count]) => [type, count - (errorsBefore[type] ?? 0)]).filter(([, count]) => Number(count) > 0));
      log(`two down: ${acknowledgedWhileDown} sends acknowledged while down, failed attempts ${JSON.stringify(errorsWhileDown)}`);
      return { kind, at, nodes: [leader, other], recoverMs, consumingAgainMs, details: { downMs: backAt - at, acknowledgedWhileDown, sendErrorsWhileDown: errorsWhileDown, publishedBefore } };
    }
    case 'controller-kill': {
      const leader = await quorumLeader(bootstrapOf(stack));
      const at = Date.now();
      await stack.signalNode(leader, 'SIGKILL');
      await sleep(1_000);
      const electedMs = Date.now() - at;
      const newLeader = await quorumLeader(bootstrapOf(stack, [leader])).catch(() => -1);
      const consuming = untilConsumingAgain(run, at);
      const restartMs = await stack.startNodes([leader]);
      const recoverMs = await whole(run, at, log);
      return { kind, at, nodes: [leader], recoverMs, consumingAgainMs: await consuming, details: { newQuorumLeader: newLeader, quorumAskedAfterMs: electedMs, restartMs } };
    }
  }
}

/** Send latency during the fault windows (each fault's first 30 s) and outside them. */
export function sendLatencies(run: ChaosRun, outcomes: readonly FaultOutcome[]): { duringFaults: LatencySummary; otherwise: LatencySummary } {
  const inWindow = (at: number) => outcomes.some((outcome) => at >= outcome.at - 1_000 && at <= outcome.at + 30_000);
  return {
    duringFaults: summarize(run.sends.filter(({ at }) => inWindow(at)).map(({ ms }) => ms)),
    otherwise: summarize(run.sends.filter(({ at }) => !inWindow(at)).map(({ ms }) => ms)),
  };
}

export interface LatencySummary {
  sends: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { sends: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
}
