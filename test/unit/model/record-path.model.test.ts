/**
 * Model-based test of the record path (see test/model/): the real RecordProcessor, KeyParking, OffsetTracker
 * and KeyScheduler, over in-memory stores and a fake broker, against the reference model's invariants.
 * `npm test` runs 2,000 seeded scenarios; `npm run test:model -- --runs 100000` the nightly size. Environment:
 * MODEL_RUNS, MODEL_SEED, MODEL_PATH, MODEL_COMMANDS (longest scenario, default 40) (replay one counterexample), MODEL_DEFECTS (`all`, `none`, or a comma list
 * of {@link KnownDefectActions} names to turn on besides those whose fix landed).
 */
import fc from 'fast-check';
import { describe, it, vi } from 'vitest';
import { allKnownDefects, coverage, defaultDefectActions, noKnownDefects, recordPathProperty, type KnownDefectActions } from '../../model/record-path-commands.ts';

vi.mock('node:timers/promises', () => import('../../model/fake-sleep.ts'));

function defectsFrom(text: string | undefined): KnownDefectActions {
  if (!text) return defaultDefectActions;
  if (text === 'all') return allKnownDefects;
  if (text === 'none') return noKnownDefects;
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) if (!(name in noKnownDefects)) throw new Error(`MODEL_DEFECTS: unknown action "${name}" (known: ${Object.keys(noKnownDefects).join(', ')}, all)`);
  return { ...defaultDefectActions, ...Object.fromEntries(names.map((name) => [name, true])) };
}

const runs = Number(process.env.MODEL_RUNS ?? 2_000);
const seed = Number(process.env.MODEL_SEED ?? 15_2026);
const path = process.env.MODEL_PATH || undefined;
const defects = defectsFrom(process.env.MODEL_DEFECTS);
const maxCommands = Number(process.env.MODEL_COMMANDS || 40);

describe('record path model', () => {
  it(`keeps commit safety, once, per-key order and no stuck key over ${runs} random scenarios (seed ${seed})`, async () => {
    await fc.assert(recordPathProperty(defects, maxCommands), { numRuns: path ? 1 : runs, seed, path, endOnFailure: false });
    // What the runs exercised (outcomes of processings, faults): printed by `npm run test:model`.
    if (process.env.MODEL_COVERAGE) console.log(`exercised: ${[...coverage].map(([name, count]) => `${name} ${count}`).join(', ')}`);
  }, Math.max(120_000, runs * 200));
});
