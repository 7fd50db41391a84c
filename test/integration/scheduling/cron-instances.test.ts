/**
 * Three `orderly cron run` instances of a 1-second schedule on the real stack: the leader SIGKILLed, then the
 * next leader SIGSTOPped past its session timeout and continued. Every slot from the first tick to the last is
 * on the tick topic (read_committed), each with one event id, none twice: the killed leader's slots are caught
 * up by its successor, and the frozen leader's late publishes are refused by the broker (fenced). The long
 * version (a kill every 10 s for 2 minutes) is the chaos scenario cron-leader-kill.
 */
import { describe, expect, it } from 'vitest';
import { CronCluster } from '../../support/cron-cluster.ts';
import { testStack } from '../../support/test-stack.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sessionTimeoutMs = 6_000;

describe('orderly cron run, three instances', () => {
  it('publishes every slot once through a SIGKILLed and a SIGSTOPped leader', { timeout: 120_000 }, async () => {
    const log: string[] = [];
    const cluster = new CronCluster({ brokers: testStack().settings.KAFKA_BROKERS, sessionTimeoutMs, log: (line) => log.push(line) });
    await cluster.setUp();
    try {
      for (let index = 0; index < 3; index++) cluster.start();
      const first = await cluster.waitForLeader(45_000);
      await sleep(2_000);
      await cluster.kill(first);
      const killedAt = Date.now();
      const second = await cluster.waitForLeader(45_000, killedAt);
      expect(second).not.toBe(first);
      await sleep(1_500);

      cluster.freeze(second);
      const frozenAt = Date.now();
      await sleep(sessionTimeoutMs + 3_000); // past the session timeout: the group gives the schedule to the third instance
      const third = await cluster.waitForLeader(45_000, frozenAt);
      expect(third).not.toBe(second);
      cluster.thaw(second); // wakes up believing it leads, with slots overdue
      await sleep(3_000);
      await cluster.stopAll();

      const check = await cluster.check();
      const summary = { check: { ...check, missedSlots: check.missedSlots.slice(0, 10) }, leaders: cluster.leaderChanges.map(({ instance }) => instance), fenced: cluster.fencedLines, log: log.slice(-20) };
      expect(check.ticks, JSON.stringify(summary)).toBeGreaterThan(10);
      expect(check.missedSlots, JSON.stringify(summary)).toEqual([]);
      expect(check.slotsWithTwoIds).toBe(0);
      expect(check.duplicates, JSON.stringify(summary)).toBe(0);
      expect(cluster.crashes).toBe(0);
      // The successor caught up the slots missed while the killed leader's session ran out.
      expect(cluster.ticks.some((tick) => tick.mode === 'catch-up')).toBe(true);
    } finally {
      await cluster.tearDown();
    }
  });
});
