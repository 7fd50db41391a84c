/**
 * `npm run test:model -- [--runs N] [--seed S] [--path P] [--defects all|none|name,...] [--commands N]`: the
 * record-path model at any size (the nightly size is `--runs 100000`; `npm test` runs 2,000). `--seed` and
 * `--path` replay the counterexample a failure printed (with the same `--commands`, the longest scenario);
 * `--defects` turns on the actions of known defects not yet fixed.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.MODEL_RUNS ?? '100000' },
    seed: { type: 'string', default: process.env.MODEL_SEED ?? String(Date.now() % 1_000_000_007) },
    path: { type: 'string', default: process.env.MODEL_PATH },
    defects: { type: 'string', default: process.env.MODEL_DEFECTS },
    commands: { type: 'string', default: process.env.MODEL_COMMANDS ?? '40' },
  },
});

if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
if (!/^\d+$/.test(values.commands) || Number(values.commands) < 1) throw new Error(`--commands must be a positive integer, got "${values.commands}"`);
if (!/^-?\d+$/.test(values.seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
console.log(`record-path model: ${values.runs} runs, seed ${values.seed}${values.path ? `, path ${values.path}` : ''}${values.defects ? `, defects ${values.defects}` : ''}, scenarios of up to ${values.commands} actions`);
const started = Date.now();
const result = spawnSync('node_modules/.bin/vitest', ['run', '--project', 'unit', 'test/unit/model/record-path.model.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, MODEL_RUNS: values.runs, MODEL_SEED: values.seed, MODEL_PATH: values.path ?? '', MODEL_DEFECTS: values.defects ?? '', MODEL_COMMANDS: values.commands, MODEL_COVERAGE: '1' },
});
console.log(`record-path model: ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(result.status ?? 1);
