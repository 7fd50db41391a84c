/**
 * A short subset of the chaos suite (test/chaos/, `npm run test:chaos`) for `npm test`: a member SIGKILLed 3
 * times, and every kind of bad input 10 times. The five counters must be 0, as in the full scenarios.
 */
import { describe, expect, it } from 'vitest';
import type { StackSettings } from '../../../infra/stack/stack-settings.ts';
import { memberSigkillScenario } from '../../chaos/member-sigkill.chaos.ts';
import { badInputScenario } from '../../chaos/bad-input.chaos.ts';
import type { ScenarioResult } from '../../chaos/support/chaos-run.ts';
import { testStack } from '../../support/test-stack.ts';

const zeroCounters = { eventsLost: 0, duplicateEffects: 0, orderViolations: 0, commitsPastIncomplete: 0, stuckPartitions: 0 };

function expectPassed(result: ScenarioResult): void {
  expect(result.counters, JSON.stringify(result.details)).toEqual(zeroCounters);
  expect(result.details.memberCrashes).toBe(0);
  expect(result.passed).toBe(true);
}

describe('chaos smoke', () => {
  it('one of 3 members SIGKILLed 3 times: exactly once, in order, no commit past an incomplete record', async () => {
    const result = await memberSigkillScenario(testStack().settings as StackSettings, { events: 4_000, keys: 500, partitions: 6, kills: 3, killIntervalMs: 5_000 });
    expectPassed(result);
    expect(result.faults.memberSigkills).toBe(3);
    expect(result.details.applied).toBe(4_000);
  }, 180_000);

  it('every kind of bad input, 10 of each: DLT with its reason or handled once; the normal stream unaffected', async () => {
    const result = await badInputScenario(testStack().settings as StackSettings, { validEvents: 2_000, keys: 200, partitions: 3, perKind: 10 });
    expectPassed(result);
    expect(result.faults.badKinds).toBeGreaterThanOrEqual(25);
    expect(result.details.wrongFates).toEqual([]);
    expect(result.details.prototypeTouched).toBe(false);
  }, 180_000);
});
