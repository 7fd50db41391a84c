/**
 * TypeScript for Avro types, as Orderly's codec decodes them: avsc with its default options and no logical-type
 * hooks (schemas/avro-type.ts), so a value's shape is the underlying Avro type's. The schema JSON is walked side
 * by side with the avsc type parsed from it: the JSON has what avsc drops (`logicalType`, which fields have a
 * default), avsc has what the JSON does not say (whether a union is wrapped, a branch's name).
 *
 * | Avro | TypeScript | why |
 * |---|---|---|
 * | `int`, `float`, `double`, `long` | `number` | avsc reads a long as a number and refuses one past 2^53 |
 * | `bytes`, `fixed` | `Buffer` | |
 * | `enum` | a union of its symbols | |
 * | `array`, `map` | `T[]`, `Record<string, T>` | |
 * | a union avsc unwraps (branches of distinct kinds, e.g. `["null", "string"]`) | `string \| null` | |
 * | a union avsc wraps (two records, `int` and `long`…) | `null \| { 'ns.Name': Name } \| { int: number }` | the branch is named on the value |
 * | `timestamp-millis`, `timestamp-micros`, `date`, `time-*` | `number` (epoch ms, epoch µs, days, ms/µs after midnight) | no hook: the long or int as is |
 * | `decimal` | `Buffer`: the unscaled value, big-endian two's complement | see schemas/decimal-bytes.ts |
 * | `uuid` | `string` | |
 *
 * A record has two types: `Name`, as read (every field present: the reader fills defaults in), and `NameInput`,
 * as written (a field with a default may be left out: avsc writes the default).
 */
import type { Type } from 'avsc';
import { ConfigurationError } from '../../core/errors.ts';

type SchemaJson = string | SchemaJson[] | { [key: string]: unknown };

interface TypeShape {
  typeName: string;
  name?: string;
  branchName?: string;
  doc?: string;
  fields?: { name: string; type: Type; defaultValue(): unknown }[];
  types?: Type[];
  itemsType?: Type;
  valuesType?: Type;
  symbols?: string[];
  size?: number;
}

const shape = (type: Type) => type as unknown as TypeShape;

type Mode = 'read' | 'write';

/** A TypeScript type expression, and what a reader should know of it (logical types). */
interface Rendered {
  ts: string;
  notes: string[];
}

/** One named Avro type (record, enum, fixed) as TypeScript declarations. */
export interface NamedDeclaration {
  fullName: string;
  tsName: string;
  kind: 'record' | 'enum' | 'fixed';
  /** The declarations' text (for a record: the read type, then the input type). */
  text: string;
  /** The file it was defined in. */
  file: string;
}

const primitives: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

const logicalNotes: Record<string, (json: Record<string, unknown>) => string> = {
  'timestamp-millis': () => 'timestamp-millis: epoch milliseconds.',
  'timestamp-micros': () => 'timestamp-micros: epoch microseconds.',
  'local-timestamp-millis': () => 'local-timestamp-millis: milliseconds since 1970-01-01T00:00 local time.',
  'local-timestamp-micros': () => 'local-timestamp-micros: microseconds since 1970-01-01T00:00 local time.',
  date: () => 'date: days since 1970-01-01.',
  'time-millis': () => 'time-millis: milliseconds after midnight.',
  'time-micros': () => 'time-micros: microseconds after midnight.',
  decimal: (json) =>
    `decimal(${String(json.precision)}, ${String(json.scale ?? 0)}): the unscaled value as a big-endian two's-complement integer; value = unscaled × 10^-${String(json.scale ?? 0)} (decimalFromBytes / decimalToBytes).`,
  uuid: () => 'uuid: the canonical text form.',
  duration: () => 'duration: 12 bytes, three little-endian unsigned ints (months, days, milliseconds).',
};

/** The TypeScript name of an Avro full name: its last part (Avro names are valid identifiers). */
export function tsNameOf(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

function docComment(lines: readonly string[], indent: string): string {
  const text = lines
    .filter((line) => line.length > 0)
    .join(' ')
    .replace(/\s+/g, ' ')
    .replace(/\*\//g, '*\u2215');
  return text ? `${indent}/** ${text} */\n` : '';
}

function parenthesized(ts: string): string {
  return /[|&]/.test(ts) ? `(${ts})` : ts;
}

function quotedKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : `'${name}'`;
}

/**
 * Collects the named types of schemas and renders them. Named types met twice (the same nested type in two
 * files) must be the same type; two full names with one short name are refused (the declarations would clash).
 */
export class TypeScriptDeclarations {
  readonly #declarations = new Map<string, NamedDeclaration>();
  readonly #canonical = new Map<string, string>();
  readonly #byTsName = new Map<string, string>();
  readonly #problems: string[] = [];
  #file = '';

  /** Adds a top-level schema (its JSON and the avsc type parsed from it) and every named type inside it. */
  add(file: string, json: SchemaJson, type: Type): void {
    this.#file = file;
    this.#render(json, type, 'read');
  }

  declarations(): NamedDeclaration[] {
    if (this.#problems.length > 0) throw new ConfigurationError(this.#problems);
    return [...this.#declarations.values()].sort((left, right) => left.tsName.localeCompare(right.tsName));
  }

  #render(json: SchemaJson, type: Type, mode: Mode): Rendered {
    const avro = shape(type);
    if (typeof json === 'string') {
      if (avro.name) return { ts: this.#reference(avro.name, avro.typeName, mode), notes: [] };
      return { ts: primitives[avro.typeName] ?? 'unknown', notes: [] };
    }
    if (Array.isArray(json)) return this.#union(json, type, mode);
    const inner = json.type;
    if (typeof inner === 'object' && inner !== null) return this.#render(inner as SchemaJson, type, mode);
    const logical = typeof json.logicalType === 'string' ? logicalNotes[json.logicalType]?.(json) : undefined;
    const notes = logical ? [logical] : [];
    switch (avro.typeName) {
      case 'record':
      case 'error':
      case 'enum':
      case 'fixed':
        this.#define(json, type, notes);
        return { ts: this.#reference(avro.name!, avro.typeName, mode), notes: [] };
      case 'array': {
        const items = this.#render(json.items as SchemaJson, avro.itemsType!, mode);
        return { ts: `${parenthesized(items.ts)}[]`, notes: items.notes };
      }
      case 'map': {
        const values = this.#render(json.values as SchemaJson, avro.valuesType!, mode);
        return { ts: `Record<string, ${values.ts}>`, notes: values.notes };
      }
      default:
        return { ts: primitives[avro.typeName] ?? 'unknown', notes };
    }
  }

  #union(json: SchemaJson[], type: Type, mode: Mode): Rendered {
    const avro = shape(type);
    const wrapped = avro.typeName === 'union:wrapped';
    const notes: string[] = [];
    const branches = avro.types!.map((branch, index) => {
      const rendered = this.#render(json[index]!, branch, mode);
      notes.push(...rendered.notes);
      if (!wrapped || shape(branch).typeName === 'null') return rendered.ts;
      return `{ ${quotedKey(shape(branch).branchName!)}: ${rendered.ts} }`;
    });
    return { ts: branches.join(' | '), notes };
  }

  #reference(fullName: string, typeName: string, mode: Mode): string {
    const name = tsNameOf(fullName);
    return mode === 'write' && (typeName === 'record' || typeName === 'error') ? `${name}Input` : name;
  }

  #define(json: Record<string, unknown>, type: Type, notes: string[]): void {
    const avro = shape(type);
    const fullName = avro.name!;
    const canonical = JSON.stringify(type.schema({ exportAttrs: true }));
    const known = this.#canonical.get(fullName);
    if (known !== undefined) {
      if (known !== canonical) this.#problems.push(`${this.#file}: ${fullName} differs from its definition in ${this.#declarations.get(fullName)?.file ?? 'another file'}: one name, one type`);
      return;
    }
    const tsName = tsNameOf(fullName);
    // A record takes two names (`X`, `XInput`): a record `XInput` beside a record `X` would clash too.
    const names = avro.typeName === 'record' || avro.typeName === 'error' ? [tsName, `${tsName}Input`] : [tsName];
    const clash = names.map((name) => this.#byTsName.get(name)).find((owner) => owner !== undefined);
    if (clash !== undefined) {
      this.#problems.push(`${this.#file}: ${fullName} and ${clash} would both declare the TypeScript type ${names.find((name) => this.#byTsName.has(name))}: rename one`);
      return;
    }
    this.#canonical.set(fullName, canonical);
    for (const name of names) this.#byTsName.set(name, fullName);
    const declaration: NamedDeclaration = { fullName, tsName, kind: 'record', text: '', file: this.#file };
    this.#declarations.set(fullName, declaration);
    const header = [typeof json.doc === 'string' ? json.doc : '', `(Avro ${avro.typeName} ${fullName}.)`, ...notes];
    if (avro.typeName === 'enum') {
      declaration.kind = 'enum';
      declaration.text = `${docComment(header, '')}export type ${tsName} = ${avro.symbols!.map((symbol) => `'${symbol}'`).join(' | ')};\n`;
      return;
    }
    if (avro.typeName === 'fixed') {
      declaration.kind = 'fixed';
      declaration.text = `${docComment([...header, `${avro.size} bytes.`], '')}export type ${tsName} = Buffer;\n`;
      return;
    }
    const fields = (json.fields as Record<string, unknown>[]).map((field, index) => ({ json: field, avro: avro.fields![index]! }));
    const body = (mode: Mode) =>
      fields
        .map(({ json: field, avro: avroField }) => {
          const rendered = this.#render(field.type as SchemaJson, avroField.type, mode);
          const optional = mode === 'write' && Object.hasOwn(field, 'default') ? '?' : '';
          return `${docComment([typeof field.doc === 'string' ? field.doc : '', ...rendered.notes], '  ')}  ${quotedKey(avroField.name)}${optional}: ${rendered.ts};\n`;
        })
        .join('');
    const read = `${docComment(header, '')}export interface ${tsName} {\n${body('read')}}\n`;
    const input = hasDefaultsWithin(type)
      ? `\n${docComment([`${tsName} as a producer writes it: a field with a default may be left out (avsc writes the default).`], '')}export interface ${tsName}Input {\n${body('write')}}\n`
      : `\n${docComment([`${tsName} as a producer writes it (no field has a default: the same type).`], '')}export type ${tsName}Input = ${tsName};\n`;
    declaration.text = read + input;
  }
}

/**
 * Whether a record's input type differs from its read type: a field with a default in it or in any type it
 * reaches (nested records, union branches, array items, map values). avsc keeps each field's default.
 */
function hasDefaultsWithin(type: Type, seen = new Set<Type>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  const avro = shape(type);
  if (avro.fields?.some((field) => field.defaultValue() !== undefined)) return true;
  const inner = [...(avro.fields ?? []).map((field) => field.type), ...(avro.types ?? []), ...(avro.itemsType ? [avro.itemsType] : []), ...(avro.valuesType ? [avro.valuesType] : [])];
  return inner.some((next) => hasDefaultsWithin(next, seen));
}
