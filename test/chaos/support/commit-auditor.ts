/**
 * Audits the group's committed offsets while a scenario runs: a sample each second of every partition's
 * committed offset. After the run, a commit past an incomplete record is a sample whose committed offset C
 * has an offset below C not yet applied (nor dead-lettered) at the sample's time; a regression is a committed
 * offset lower than an earlier sample's (a stale member's commit accepted). Also waits for the lag to drain.
 */
import type { Admin } from '../../../core/kafka-client.ts';
import type { AppliedRow, DeadLetteredEvent } from './effects-sink.ts';

interface Sample {
  at: number;
  partition: number;
  committed: number;
}

export interface AuditResult {
  samples: number;
  commitsPastIncomplete: number;
  regressions: number;
  firstProblem?: string;
}

export class CommitAuditor {
  private readonly admin: Admin;
  private readonly groupId: string;
  private readonly topic: string;
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(admin: Admin, groupId: string, topic: string) {
    this.admin = admin;
    this.groupId = groupId;
    this.topic = topic;
  }

  start(intervalMs = 1_000): void {
    this.timer = setInterval(() => {
      this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
  }

  async committed(): Promise<Map<number, number>> {
    const [entry] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    return new Map((entry?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
  }

  private async sample(): Promise<void> {
    // A broker down (scenario 4) makes a sample fail: that second has no sample, nothing more.
    const committed = await this.committed().catch(() => undefined);
    const at = Date.now();
    for (const [partition, offset] of committed ?? []) if (offset >= 0) this.samples.push({ at, partition, committed: offset });
  }

  /** Lag (end offset minus committed) summed over the partitions. */
  async lag(): Promise<number> {
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(this.topic), this.committed()]);
    return ends.reduce((sum, { partition, high }) => sum + Number(high) - Math.max(0, committed.get(partition) ?? 0), 0);
  }

  /** Waits until the lag is 0; the partitions still lagging after `timeoutMs` are stuck. */
  async waitForLagZero(timeoutMs = 120_000): Promise<{ stuckPartitions: number; drainedAfterMs: number }> {
    const startedAt = Date.now();
    for (;;) {
      const lagging = await this.laggingPartitions().catch(() => -1);
      if (lagging === 0) return { stuckPartitions: 0, drainedAfterMs: Date.now() - startedAt };
      if (Date.now() - startedAt > timeoutMs) return { stuckPartitions: Math.max(lagging, 1), drainedAfterMs: Date.now() - startedAt };
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private async laggingPartitions(): Promise<number> {
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(this.topic), this.committed()]);
    return ends.filter(({ partition, high }) => Number(high) > Math.max(0, committed.get(partition) ?? 0)).length;
  }

  check(rows: readonly AppliedRow[], deadLettered: readonly DeadLetteredEvent[]): AuditResult {
    const completedAt = new Map<number, Map<number, number>>();
    const complete = (partition: number, offset: number, at: number) => {
      let byOffset = completedAt.get(partition);
      if (!byOffset) completedAt.set(partition, (byOffset = new Map()));
      byOffset.set(offset, Math.min(at, byOffset.get(offset) ?? Infinity));
    };
    for (const row of rows) complete(row.partition, row.offset, row.at);
    for (const dead of deadLettered) if (dead.partition !== undefined && dead.offset !== undefined) complete(dead.partition, dead.offset, dead.at);

    const result: AuditResult = { samples: this.samples.length, commitsPastIncomplete: 0, regressions: 0 };
    const highest = new Map<number, number>();
    // Per partition, offsets below `verifiedUpTo` were complete at an earlier sample, so at every later one.
    const verifiedUpTo = new Map<number, number>();
    for (const sample of [...this.samples].sort((a, b) => a.at - b.at)) {
      if (sample.committed < (highest.get(sample.partition) ?? 0)) {
        result.regressions++;
        result.firstProblem ??= `partition ${sample.partition}: committed offset went back from ${highest.get(sample.partition)} to ${sample.committed}`;
      }
      highest.set(sample.partition, Math.max(sample.committed, highest.get(sample.partition) ?? 0));
      const byOffset = completedAt.get(sample.partition) ?? new Map<number, number>();
      for (let offset = verifiedUpTo.get(sample.partition) ?? 0; offset < sample.committed; offset++) {
        const at = byOffset.get(offset);
        if (at === undefined || at > sample.at) {
          result.commitsPastIncomplete++;
          result.firstProblem ??= `partition ${sample.partition}: offset ${sample.committed} committed at ${new Date(sample.at).toISOString()} while offset ${offset} was ${at === undefined ? 'never completed' : `completed only at ${new Date(at).toISOString()}`}`;
          break;
        }
        verifiedUpTo.set(sample.partition, offset + 1);
      }
    }
    return result;
  }
}
