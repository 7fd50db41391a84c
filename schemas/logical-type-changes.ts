/**
 * Logical types that change between two versions of a schema. Neither avsc's resolution (Orderly's offline
 * check) nor the registry's compatibility check looks at them (Avro resolves the underlying types: a decimal
 * whose scale goes from 2 to 3, or a timestamp-millis turned timestamp-micros, is "compatible"), yet readers then
 * see the same bytes with another meaning. `orderly schemas diff` lists them beside its verdict. The schemas are
 * read as written ({@link writtenSchemaText}): avsc without hooks keeps no logical type.
 */
import type { Type } from 'avsc';
import { writtenSchemaText } from './avro-type.ts';

type Json = unknown;

const namedKinds = new Set(['record', 'error', 'enum', 'fixed']);

/** `decimal(12, 2)`, `timestamp-millis`, or `none`. */
function signature(json: Record<string, unknown>): string {
  const logical = json.logicalType;
  if (typeof logical !== 'string') return 'none';
  if (logical === 'decimal') return `decimal(${String(json.precision)}, ${String(json.scale ?? 0)})`;
  return logical;
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

/** The logical type at each field path of a schema (`amount`, `payer.bornOn`, `lines[].price`), `none` where it has none. */
function logicalTypesByPath(schema: Json): Map<string, string> {
  const named = new Map<string, Record<string, unknown>>();
  const found = new Map<string, string>();
  const visit = (json: Json, path: string, namespace: string, expanding: ReadonlySet<string>): void => {
    if (typeof json === 'string') {
      const definition = named.get(fullName(json, namespace)) ?? named.get(json);
      if (definition && !expanding.has(String(definition.name))) visit(definition, path, namespace, expanding);
      else if (!definition && !found.has(path)) found.set(path, 'none');
      return;
    }
    if (Array.isArray(json)) {
      for (const branch of json) visit(branch, path, namespace, expanding);
      return;
    }
    if (typeof json !== 'object' || json === null) return;
    const node = json as Record<string, unknown>;
    if (typeof node.type === 'object' && node.type !== null) {
      visit(node.type, path, namespace, expanding);
      return;
    }
    const kind = String(node.type);
    let inner = namespace;
    let within = expanding;
    if (namedKinds.has(kind) && typeof node.name === 'string') {
      inner = typeof node.namespace === 'string' ? node.namespace : node.name.includes('.') ? node.name.slice(0, node.name.lastIndexOf('.')) : namespace;
      const name = fullName(node.name, inner);
      named.set(name, { ...node, name, namespace: inner });
      within = new Set([...expanding, name]);
    }
    if (kind === 'record' || kind === 'error') {
      for (const field of (node.fields as Record<string, unknown>[] | undefined) ?? []) {
        visit(field.type, path === '' ? String(field.name) : `${path}.${String(field.name)}`, inner, within);
      }
    } else if (kind === 'array') {
      visit(node.items, `${path}[]`, inner, within);
    } else if (kind === 'map') {
      visit(node.values, `${path}{}`, inner, within);
    } else if (path !== '') {
      // A union's branches share a path: the last logical one wins, enough to see a change.
      const known = found.get(path);
      if (known === undefined || known === 'none') found.set(path, signature(node));
    }
  };
  visit(schema, '', '', new Set());
  return found;
}

/** Each field whose logical type differs between the two schemas, e.g. `amount: decimal(12, 2) -> decimal(12, 3)`. */
export function logicalTypeChanges(oldType: Type, newType: Type): string[] {
  const before = logicalTypesByPath(JSON.parse(writtenSchemaText(oldType)));
  const after = logicalTypesByPath(JSON.parse(writtenSchemaText(newType)));
  const changes: string[] = [];
  for (const [path, old] of before) {
    const now = after.get(path);
    if (now !== undefined && now !== old) changes.push(`${path}: ${old} -> ${now}`);
  }
  return changes;
}
