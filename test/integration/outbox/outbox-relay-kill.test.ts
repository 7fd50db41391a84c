/**
 * The short form of the outbox chaos scenario (test/chaos/outbox-relay-sigkill.chaos.ts runs the issue's
 * 20,000 events with a kill every 5 s): 2,000 events, three relay processes, at least one SIGKILLed while the
 * writers commit. Nothing lost, per key in commit order, a republished event under its own id only.
 */
import { expect, it } from 'vitest';
import { outboxRelaySigkillScenario } from '../../chaos/outbox-relay-sigkill.chaos.ts';
import { testStack } from '../../support/test-stack.ts';

it('three relays, one SIGKILLed, 2,000 events: nothing lost, per-key commit order, republished only under the same id', async () => {
  const result = await outboxRelaySigkillScenario(
    testStack().settings,
    { events: 2_000, keys: 100, partitions: 3, relays: 3, killIntervalMs: 3_000, minKills: 1, produceMs: 5_000, writers: 3, perTransaction: 10, rollbackShare: 0.05 },
    () => undefined,
  );
  expect(result.counters).toEqual({ eventsLost: 0, duplicateEffects: 0, orderViolations: 0, commitsPastIncomplete: 0, stuckPartitions: 0 });
  expect(result.faults.relaySigkills).toBeGreaterThanOrEqual(1);
  expect(result.events).toBe(result.details.committed);
  expect(result.events).toBeGreaterThanOrEqual(2_000); // committed; 5% of the transactions roll back on purpose and do not count
  expect(result.passed).toBe(true);
}, 180_000);
