/**
 * Model-based test of the record path (see test/model/): the real RecordProcessor, KeyParking, OffsetTracker
 * and KeyScheduler, over in-memory stores and a fake broker, against the reference model's invariants.
 * `npm test` runs 2,000 seeded scenarios; `npm run test:model -- --runs 100000` the nightly size. Environment:
 * MODEL_RUNS, MODEL_SEED, MODEL_PATH (replay one counterexample), MODEL_DEFECTS (`all` or a comma list of
 * {@link KnownDefectActions} names).
 */
import fc from 'fast-check';
import { describe, it, vi } from 'vitest';
import { allKnownDefects, noKnownDefects, recordPathProperty, type KnownDefectActions } from '../../model/record-path-commands.ts';

vi.mock('node:timers/promises', () => import('../../model/fake-sleep.ts'));

function defectsFrom(text: string | undefined): KnownDefectActions {
  if (!text) return noKnownDefects;
  if (text === 'all') return allKnownDefects;
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) if (!(name in noKnownDefects)) throw new Error(`MODEL_DEFECTS: unknown action "${name}" (known: ${Object.keys(noKnownDefects).join(', ')}, all)`);
  return Object.fromEntries(Object.keys(noKnownDefects).map((name) => [name, names.includes(name)])) as unknown as KnownDefectActions;
}

const runs = Number(process.env.MODEL_RUNS ?? 2_000);
const seed = Number(process.env.MODEL_SEED ?? 15_2026);
const path = process.env.MODEL_PATH || undefined;
const defects = defectsFrom(process.env.MODEL_DEFECTS);

describe('record path model', () => {
  it(`keeps commit safety, once, per-key order and no stuck key over ${runs} random scenarios (seed ${seed})`, async () => {
    await fc.assert(recordPathProperty(defects), { numRuns: path ? 1 : runs, seed, path, endOnFailure: false });
  }, Math.max(120_000, runs * 200));
});
