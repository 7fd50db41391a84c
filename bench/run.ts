/**
 * `npm run bench [-- <workload>...]`: runs the consumer benches one after the other, each in its own Node
 * process (never part of npm test). With no argument: every workload, in the order below. Each writes
 * bench/results/<workload>.json and its section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const workloads = {
  'consumer-overhead': 'consumer-overhead.ts',
  'key-concurrency': 'key-concurrency.ts',
  'retry-precision': 'retry-precision.ts',
  'consumer-memory': 'consumer-memory.ts',
  'consumer-ceiling': 'consumer-ceiling.ts',
  'priority-lanes': 'priority-lanes.ts',
  'cron-ticks': 'cron-ticks.ts',
  'ledger-throughput': 'ledger-throughput.ts',
  'delayed-delivery': 'delayed-delivery.ts',
} as const;
type Workload = keyof typeof workloads;
const aliases: Record<string, Workload> = { overhead: 'consumer-overhead', keys: 'key-concurrency', retry: 'retry-precision', memory: 'consumer-memory', ceiling: 'consumer-ceiling', priority: 'priority-lanes', cron: 'cron-ticks', ledger: 'ledger-throughput', delayed: 'delayed-delivery' };

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in workloads) && !(name in aliases));
if (unknown.length > 0) {
  console.error(`unknown workload ${unknown.map((name) => `"${name}"`).join(', ')}: choose from ${Object.keys(workloads).join(', ')} (or ${Object.keys(aliases).join(', ')})`);
  process.exit(2);
}
const chosen = asked.length === 0 ? (Object.keys(workloads) as Workload[]) : asked.map((name) => (name in workloads ? (name as Workload) : aliases[name]!));
let failed = 0;
for (const workload of chosen) {
  console.log(`\n=== ${workload} ===`);
  const script = fileURLToPath(new URL(workloads[workload], import.meta.url));
  const { status } = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (status !== 0) {
    console.error(`${workload} failed (exit ${status})`);
    failed += 1;
  }
}
process.exit(failed === 0 ? 0 : 1);
