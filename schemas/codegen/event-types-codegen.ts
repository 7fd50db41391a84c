/**
 * `orderly schemas codegen`: one TypeScript file with a type for every schema of a folder (the newest version
 * of each record: `X.v2.avsc` over `X.avsc`, the version consumers read into) and, per topic, the event types it
 * carries: a map by record name (the typed router's cases), the union of their values (the decoder's type), a
 * union discriminated by `eventType`, and the full names at run time.
 *
 * Which records a topic carries is not in the schemas. It comes from `topics.json` in the folder
 * (`{ "<topic>": ["AccountOpened", "orderly.ledger.FundsDeposited", "FundsWithdrawn.avsc"] }`: a record's
 * name, full name or file) and from `--topic <topic>`, which puts every record of the folder on that topic
 * (one topic, several event types: the subject strategies `record` and `topic-record`, as the ledger uses).
 *
 * The output depends on the schemas only (file names, not paths), so `--check` gives the same answer from any
 * working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import { ConfigurationError } from '../../core/errors.ts';
import { fullNameOf } from '../avro-type.ts';
import { readSchemaDirectory, type LocalSchema } from '../schema-directory.ts';
import { TypeScriptDeclarations, tsNameOf } from './avro-to-typescript.ts';

export const topicMapFile = 'topics.json';

export interface EventTypesCodegenOptions {
  /** The folder of `.avsc` files. */
  dir: string;
  /** A topic that carries every record of the folder (besides those of `topics.json`). */
  topic?: string;
}

interface TopicEvents {
  topic: string;
  /** Full names of the records, in the order given. */
  records: string[];
}

/** The newest version of each record of the folder, by full name (sorted). */
function newestVersions(dir: string): LocalSchema[] {
  // The 'record' strategy names subjects by full name, which needs no topic; the subjects do not matter here.
  const newest = new Map<string, LocalSchema>();
  for (const schema of readSchemaDirectory(dir, { strategy: 'record' })) {
    const name = fullNameOf(schema.type);
    const known = newest.get(name);
    if (!known || schema.version > known.version) newest.set(name, schema);
  }
  return [...newest.entries()].sort(([left], [right]) => left.localeCompare(right)).map(([, schema]) => schema);
}

function readTopicMap(dir: string): Record<string, unknown> {
  const path = join(dir, topicMapFile);
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigurationError([`${path}: not valid JSON (${(error as Error).message}); expected { "<topic>": ["<record name>", ...] }`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigurationError([`${path}: expected an object { "<topic>": ["<record name>", ...] }`]);
  return parsed as Record<string, unknown>;
}

function topicsOf(dir: string, schemas: readonly LocalSchema[], topic: string | undefined): TopicEvents[] {
  const byName = new Map<string, string[]>();
  const add = (alias: string, fullName: string) => byName.set(alias, [...new Set([...(byName.get(alias) ?? []), fullName])]);
  for (const schema of schemas) {
    const fullName = fullNameOf(schema.type);
    add(fullName, fullName);
    add(tsNameOf(fullName), fullName);
  }
  // Every version's file names the record too.
  for (const schema of readSchemaDirectory(dir, { strategy: 'record' })) add(schema.file, fullNameOf(schema.type));
  const problems: string[] = [];
  const topics: TopicEvents[] = [];
  for (const [name, entries] of Object.entries(readTopicMap(dir))) {
    if (!Array.isArray(entries) || entries.length === 0 || entries.some((entry) => typeof entry !== 'string')) {
      problems.push(`${topicMapFile}: topic ${name}: expected a non-empty list of record names`);
      continue;
    }
    const records: string[] = [];
    for (const entry of entries as string[]) {
      const matches = byName.get(entry) ?? [];
      if (matches.length === 1) records.push(matches[0]!);
      else if (matches.length === 0) problems.push(`${topicMapFile}: topic ${name}: no schema in the folder is named ${entry}`);
      else problems.push(`${topicMapFile}: topic ${name}: ${entry} names ${matches.join(' and ')}: give the full name`);
    }
    topics.push({ topic: name, records: [...new Set(records)] });
  }
  if (topic !== undefined) {
    if (topics.some((known) => known.topic === topic)) problems.push(`--topic ${topic}: ${topicMapFile} lists that topic already`);
    topics.push({ topic, records: schemas.map((schema) => fullNameOf(schema.type)) });
  }
  const identifiers = new Map<string, string>();
  for (const { topic: name } of topics) {
    const identifier = topicIdentifier(name);
    const other = identifiers.get(identifier);
    if (other !== undefined) problems.push(`topics ${other} and ${name} would both be the TypeScript name ${identifier}`);
    identifiers.set(identifier, name);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return topics;
}

/** `accounts.ledger` -> `AccountsLedger`: the prefix of a topic's types. */
export function topicIdentifier(topic: string): string {
  const words = topic.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0);
  const pascal = words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
  return /^[A-Za-z]/.test(pascal) ? pascal : `Topic${pascal}`;
}

function topicDeclarations({ topic, records }: TopicEvents): string {
  const prefix = topicIdentifier(topic);
  const names = records.map((fullName) => ({ fullName, tsName: tsNameOf(fullName) }));
  const constName = `${prefix[0]!.toLowerCase()}${prefix.slice(1)}EventTypes`;
  return [
    `/** The events of topic \`${topic}\`, by record name: the cases of \`route<${prefix}Events>({ ... })\`. */`,
    `export interface ${prefix}Events {`,
    ...names.map(({ tsName }) => `  ${tsName}: ${tsName};`),
    '}',
    '',
    `/** The value of any event of topic \`${topic}\` (the decoder's type). */`,
    `export type ${prefix}Value = ${prefix}Events[keyof ${prefix}Events];`,
    '',
    `/** One event of topic \`${topic}\`, discriminated by its \`eventType\` (the record's full name, the producer's default type). */`,
    `export type ${prefix}Event =`,
    ...names.map(({ fullName, tsName }, index) => `  | { eventType: '${fullName}'; value: ${tsName} }${index === names.length - 1 ? ';' : ''}`),
    '',
    `/** The event types of topic \`${topic}\` at run time: record name -> full name. */`,
    `export const ${constName} = {`,
    ...names.map(({ fullName, tsName }) => `  ${tsName}: '${fullName}',`),
    '} as const;',
    '',
  ].join('\n');
}

/** The generated file's text. Throws a {@link ConfigurationError} listing every problem of the folder or the topics. */
export function generateEventTypes(options: EventTypesCodegenOptions): string {
  const schemas = newestVersions(options.dir);
  const topics = topicsOf(options.dir, schemas, options.topic);
  const declarations = new TypeScriptDeclarations();
  for (const schema of schemas) declarations.add(schema.file, JSON.parse(schema.text) as Parameters<TypeScriptDeclarations['add']>[1], schema.type as Type);
  const named = declarations.declarations();
  const files = schemas.map((schema) => schema.file).join(', ');
  const header = [
    '// Generated by `orderly schemas codegen`: do not edit. Run it again after changing a schema; `--check` fails',
    '// when this file is stale. Values are typed as the Avro codec decodes them (avsc, no logical-type hooks):',
    '// long -> number, bytes and fixed -> Buffer, timestamp-millis -> number (epoch ms), decimal -> Buffer.',
    `// From: ${files}.`,
    '',
  ];
  return [...header, ...named.map((declaration) => declaration.text), ...topics.map(topicDeclarations)].join('\n');
}

/** Undefined when `existing` is what the schemas generate; otherwise why not, naming the first line that differs. */
export function staleness(existing: string | undefined, generated: string): string | undefined {
  if (existing === undefined) return 'the file does not exist';
  if (existing === generated) return undefined;
  const before = existing.split('\n');
  const after = generated.split('\n');
  const line = after.findIndex((text, index) => before[index] !== text);
  const at = line === -1 ? after.length : line;
  return `line ${at + 1} differs: the file has ${JSON.stringify(before[at] ?? '(end of file)')}, the schemas give ${JSON.stringify(after[at] ?? '(end of file)')}`;
}
