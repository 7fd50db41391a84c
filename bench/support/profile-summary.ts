/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time by area (idle, GC, kafkajs, Orderly's folders,
 * pino, ioredis, avsc, Node internals) and the functions with the most self time.
 * Usage: node bench/support/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArgument] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/support/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
const total = [...selfMicros.values()].reduce((sum, micros) => sum + micros, 0);

function areaOf({ functionName, url }: ProfileNode['callFrame']): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return 'program (native, unattributed)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  // Any checkout path (a worktree too); nested folders count apart: `consumers/idempotency/` is an area of its own.
  const own = /\/(consumers|producers|schemas|core|bench|observability|outbox)\/(?:([^/]+)\/)?[^/]+\.ts$/.exec(url);
  if (own) return `orderly ${own[1]}/${own[2] ? `${own[2]}/` : ''}`;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)!.callFrame;
  const area = areaOf(frame);
  areas.set(area, (areas.get(area) ?? 0) + micros);
  const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules\/|work\/[^/]+\/)/, '')}:${frame.lineNumber + 1}`;
  functions.set(name, (functions.get(name) ?? 0) + micros);
}
const percent = (micros: number) => `${((100 * micros) / total).toFixed(1)}%`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled`);
console.log('\nself time by area:');
for (const [area, micros] of [...areas].sort((left, right) => right[1] - left[1])) console.log(`  ${percent(micros).padStart(6)}  ${area}`);
console.log('\nfunctions by self time:');
for (const [name, micros] of [...functions].sort((left, right) => right[1] - left[1]).slice(0, Number(topArgument ?? 25))) console.log(`  ${percent(micros).padStart(6)}  ${name}`);

// Total (inclusive) time: each sample counts once for every distinct function on its stack.
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const inclusive = new Map<string, number>();
const labelOf = (frame: ProfileNode['callFrame']) => `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules\/|work\/[^/]+\/)/, '')}:${frame.lineNumber + 1}`;
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) seen.add(labelOf(byId.get(current)!.callFrame));
  for (const label of seen) inclusive.set(label, (inclusive.get(label) ?? 0) + micros);
}
const ownCode = /^(?!.*node_modules).*(consumers|schemas|core|producers|outbox)\//;
console.log('\nOrderly functions by total time (self + callees):');
for (const [name, micros] of [...inclusive].filter(([name]) => ownCode.test(name)).sort((left, right) => right[1] - left[1]).slice(0, Number(topArgument ?? 25))) console.log(`  ${percent(micros).padStart(6)}  ${name}`);
