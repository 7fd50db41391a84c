/**
 * What each record in flight costs on the V8 heap, by constructor and retainer: two heap snapshots of the
 * memory bench's probe (idle, then with N handler calls in flight: `BENCH_REPETITIONS=1
 * BENCH_HEAP_SNAPSHOT=/tmp/mem npm run bench:memory`) are summed per kind of node, the idle one subtracted,
 * and divided by N. A kind is the node's type and name, and more where the name says little: a closure also
 * by where its function is defined (file:line), a plain object by its first property names. Each row names
 * the retainer most of its loaded nodes have (the retaining node's kind and the edge's name: the field,
 * closure variable or element that holds it), so a row can be traced to the code that keeps it. Self sizes: a
 * row's bytes are its own nodes', not what they point to.
 * Usage: node --max-old-space-size=8192 bench/support/heap-per-record.ts <idle.heapsnapshot> <loaded.heapsnapshot>
 *   [in-flight=10000] [rows=40]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]]; location_fields: string[] } };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

const [idleFile, loadedFile, inFlightArgument, rowsArgument] = process.argv.slice(2);
if (!idleFile || !loadedFile) {
  console.error('usage: node bench/support/heap-per-record.ts <idle.heapsnapshot> <loaded.heapsnapshot> [in-flight] [rows]');
  process.exit(2);
}
const inFlight = Number(inFlightArgument ?? 10_000);
const stringTypes = new Set(['string', 'concatenated string', 'sliced string']);

/** A snapshot's nodes with their kinds (see the file's comment) and edge ranges. */
class Heap {
  readonly snapshot: Snapshot;
  readonly nodeFields: number;
  readonly edgeFields: number;
  readonly count: number;
  /** Index into `edges` of each node's first edge. */
  readonly firstEdge: Uint32Array;
  readonly kinds: string[];
  private readonly at: Record<'type' | 'name' | 'size' | 'edgeCount' | 'edgeType' | 'edgeName' | 'edgeTo', number>;

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot;
    const { node_fields: nodeFields, edge_fields: edgeFields } = snapshot.snapshot.meta;
    this.nodeFields = nodeFields.length;
    this.edgeFields = edgeFields.length;
    this.at = {
      type: nodeFields.indexOf('type'),
      name: nodeFields.indexOf('name'),
      size: nodeFields.indexOf('self_size'),
      edgeCount: nodeFields.indexOf('edge_count'),
      edgeType: edgeFields.indexOf('type'),
      edgeName: edgeFields.indexOf('name_or_index'),
      edgeTo: edgeFields.indexOf('to_node'),
    };
    this.count = snapshot.nodes.length / this.nodeFields;
    this.firstEdge = new Uint32Array(this.count + 1);
    for (let node = 0; node < this.count; node++) this.firstEdge[node + 1] = this.firstEdge[node]! + snapshot.nodes[node * this.nodeFields + this.at.edgeCount]! * this.edgeFields;
    const lines = new Map<number, number>();
    const { location_fields: locationFields } = snapshot.snapshot.meta;
    for (let at = 0; at < snapshot.locations.length; at += locationFields.length) {
      lines.set(snapshot.locations[at + locationFields.indexOf('object_index')]! / this.nodeFields, snapshot.locations[at + locationFields.indexOf('line')]! + 1);
    }
    this.kinds = Array.from({ length: this.count }, (_, node) => this.kindOf(node, lines));
  }

  type(node: number): string {
    return this.snapshot.snapshot.meta.node_types[0][this.snapshot.nodes[node * this.nodeFields + this.at.type]!]!;
  }

  name(node: number): string {
    return this.snapshot.strings[this.snapshot.nodes[node * this.nodeFields + this.at.name]!] ?? '';
  }

  size(node: number): number {
    return this.snapshot.nodes[node * this.nodeFields + this.at.size]!;
  }

  /** Each edge of `node`: its type, name (a property, variable or element index) and target node. */
  *edges(node: number): Generator<{ type: string; name: string; to: number }> {
    const { edges, strings } = this.snapshot;
    const edgeTypes = this.snapshot.snapshot.meta.edge_types[0];
    for (let edge = this.firstEdge[node]!; edge < this.firstEdge[node + 1]!; edge += this.edgeFields) {
      const type = edgeTypes[edges[edge + this.at.edgeType]!]!;
      const raw = edges[edge + this.at.edgeName]!;
      yield { type, name: type === 'element' || type === 'hidden' ? `[${raw}]` : (strings[raw] ?? ''), to: edges[edge + this.at.edgeTo]! / this.nodeFields };
    }
  }

  private edgeTo(node: number, name: string): number | undefined {
    for (const edge of this.edges(node)) if (edge.name === name) return edge.to;
    return undefined;
  }

  private kindOf(node: number, lines: Map<number, number>): string {
    const type = this.type(node);
    if (stringTypes.has(type)) return type;
    const name = this.name(node).replace(/\s+/g, ' ').slice(0, 50);
    if (type === 'closure') {
      const shared = this.edgeTo(node, 'shared');
      const script = shared === undefined ? undefined : this.edgeTo(shared, 'script');
      const file = script === undefined ? '' : this.name(script);
      const where = file.startsWith('file://') || file.startsWith('/') ? relative(process.cwd(), file.replace(/^file:\/\//, '')) : file.replace(/^node:/, 'node:');
      return `closure ${name || '(anonymous)'} @ ${where}:${lines.get(node) ?? '?'}`;
    }
    if (type === 'object' && name === 'Object') {
      const properties = [...this.edges(node)].filter((edge) => edge.type === 'property' && edge.name !== '__proto__').map((edge) => edge.name);
      return `object Object {${properties.slice(0, 6).join(', ')}${properties.length > 6 ? ', …' : ''}}`;
    }
    return `${type} ${name}`.trim();
  }

  groups(): Map<string, Group> {
    const result = new Map<string, Group>();
    for (let node = 0; node < this.count; node++) {
      const group = result.get(this.kinds[node]!) ?? { count: 0, bytes: 0 };
      group.count += 1;
      group.bytes += this.size(node);
      result.set(this.kinds[node]!, group);
    }
    return result;
  }

  /** Per kind asked for, how often each retainer (the retaining node's kind and the edge's name) holds one of its nodes. */
  retainers(wanted: Set<string>): Map<string, Map<string, number>> {
    const found = new Map<string, Map<string, number>>();
    const seen = new Uint8Array(this.count);
    for (let node = 0; node < this.count; node++) {
      for (const edge of this.edges(node)) {
        // The first strong retainer of each node counts (most per-record objects have one).
        if (edge.type === 'weak' || edge.type === 'shortcut' || seen[edge.to] || !wanted.has(this.kinds[edge.to]!)) continue;
        seen[edge.to] = 1;
        const holder = `${this.kinds[node]}.${edge.name.slice(0, 30)}`;
        const counts = found.get(this.kinds[edge.to]!) ?? new Map<string, number>();
        counts.set(holder, (counts.get(holder) ?? 0) + 1);
        found.set(this.kinds[edge.to]!, counts);
      }
    }
    return found;
  }
}

const read = (file: string) => new Heap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot);
const idle = read(idleFile).groups();
const loadedHeap = read(loadedFile);
const loaded = loadedHeap.groups();
const rows = [...loaded]
  .map(([kind, group]) => ({ kind, count: (group.count - (idle.get(kind)?.count ?? 0)) / inFlight, bytes: (group.bytes - (idle.get(kind)?.bytes ?? 0)) / inFlight }))
  .sort((left, right) => right.bytes - left.bytes);
const shown = rows.slice(0, Number(rowsArgument ?? 40));
const holders = loadedHeap.retainers(new Set(shown.map((row) => row.kind)));
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
const cell = (text: string) => text.replace(/\|/g, '\\|');
console.log(`${loadedFile} against ${idleFile}, ${inFlight} in flight: ${total.toFixed(0)} bytes per record in flight (self sizes, loaded minus idle)`);
console.log('');
console.log('| bytes per record | count per record | node kind | held mostly by (kind.edge, share of its nodes) |');
console.log('|---|---|---|---|');
for (const row of shown) {
  const counts = [...(holders.get(row.kind) ?? new Map<string, number>())].sort((left, right) => right[1] - left[1]);
  const all = counts.reduce((sum, [, count]) => sum + count, 0);
  const top = counts
    .slice(0, 2)
    .map(([holder, count]) => `${holder} (${Math.round((100 * count) / all)}%)`)
    .join(', ');
  console.log(`| ${row.bytes.toFixed(1)} | ${row.count.toFixed(2)} | ${cell(row.kind)} | ${cell(top)} |`);
}
const rest = rows.slice(shown.length).reduce((sum, row) => sum + row.bytes, 0);
console.log(`| ${rest.toFixed(1)} | | the other ${rows.length - shown.length} kinds | |`);
