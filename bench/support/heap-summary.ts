/**
 * Summarizes a V8 heap snapshot (`v8.writeHeapSnapshot()`, e.g. BENCH_HEAP_SNAPSHOT of the memory bench):
 * retained-by-self size and count per (node type, name), biggest first. With 10,000 calls in flight, the
 * entries counted in multiples of 10,000 are what each in-flight event costs.
 * Usage: node bench/support/heap-summary.ts <file.heapsnapshot> [top=30]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, topArgument] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/support/heap-summary.ts <file.heapsnapshot> [top]');
  process.exit(2);
}
const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = heap.snapshot.meta.node_fields;
const types = heap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let index = 0; index < heap.nodes.length; index += fields.length) {
  const type = types[heap.nodes[index + typeAt]!]!;
  const rawName = heap.strings[heap.nodes[index + nameAt]!] ?? '';
  const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : rawName.slice(0, 60);
  const key = `${type} ${name}`.trim();
  const bytes = heap.nodes[index + sizeAt]!;
  const group = groups.get(key) ?? { count: 0, bytes: 0 };
  group.count += 1;
  group.bytes += bytes;
  groups.set(key, group);
  total += bytes;
}
console.log(`heap snapshot ${file}: ${(total / 2 ** 20).toFixed(1)} MiB in ${heap.nodes.length / fields.length} nodes`);
console.log('     MiB     count  (type name)');
for (const [key, { count, bytes }] of [...groups].sort((left, right) => right[1].bytes - left[1].bytes).slice(0, Number(topArgument ?? 30))) {
  console.log(`${(bytes / 2 ** 20).toFixed(2).padStart(8)} ${String(count).padStart(9)}  ${key}`);
}
