/**
 * The CI gate for teams sharing schemas. Per subject, the local versions (`X.avsc`, `X.v2.avsc`, ...) are a
 * chain: each is checked offline against the one before it (all earlier ones under a `*_TRANSITIVE` level),
 * and only the newest is checked against the registry. An older local file is history, already registered
 * or superseded: testing it against the registry's latest version would fail every legal change and blame
 * the old file. The registry's verdict is its own (`POST /compatibility/subjects/{subject}/versions/latest`,
 * under the subject's level); the explanation (which field breaks what) comes from the offline comparison.
 * A newest version the registry already holds is `registered` (nothing to check). A subject the registry
 * does not have is `new-subject` and checked only along its chain: Apicurio answers "compatible" for an
 * unknown subject, so its verdict would mean nothing.
 */
import type { LocalSchema } from './schema-directory.ts';
import type { SchemaRegistryClient } from './schema-registry-client.ts';
import { SchemaRegistryError } from './schema-registry-error.ts';
import { compareSchemas } from './schema-compatibility.ts';
import { parseSchemaText } from './avro-type.ts';

export interface SchemaCheckResult {
  schema: LocalSchema;
  /**
   * `compatible` / `incompatible`: the verdict (chain and, for the newest, registry); `registered`: the newest
   * version is already in the registry; `new-subject`: the registry has no such subject (chain checked only).
   */
  status: 'compatible' | 'incompatible' | 'registered' | 'new-subject';
  /** The subject's compatibility level (the global one for a new subject). */
  level: string;
  /** The local files this one was checked against (the previous version; all earlier ones when transitive). */
  checkedAgainstFiles: string[];
  /** For the newest local version: the registry version it was checked against or found as. */
  latestVersion?: number;
  /** Each breaking field and what it breaks. */
  problems: string[];
}

function problemsUnder(level: string, older: LocalSchema['type'], newer: LocalSchema['type'], olderName: string): string[] {
  if (level === 'NONE') return [];
  const report = compareSchemas(older, newer);
  const backward = report.backward.map((problem) => `${problem} (breaks BACKWARD: it cannot read data written with ${olderName})`);
  const forward = report.forward.map((problem) => `${problem} (breaks FORWARD: readers of ${olderName} cannot read its data)`);
  if (level.startsWith('BACKWARD')) return backward;
  if (level.startsWith('FORWARD')) return forward;
  return [...backward, ...forward];
}

async function registeredVersion(registry: SchemaRegistryClient, schema: LocalSchema): Promise<boolean> {
  try {
    await registry.lookup(schema.subject, schema.text);
    return true;
  } catch (error) {
    if (error instanceof SchemaRegistryError && error.notFound) return false;
    throw error;
  }
}

async function checkSubject(registry: SchemaRegistryClient, chain: readonly LocalSchema[]): Promise<SchemaCheckResult[]> {
  const subject = chain[0]!.subject;
  const latest = await registry.latest(subject);
  const level = await registry.compatibilityLevel(subject);
  const transitive = level.endsWith('_TRANSITIVE');
  const results: SchemaCheckResult[] = [];
  for (const [index, schema] of chain.entries()) {
    const earlier = transitive ? chain.slice(0, index) : chain.slice(Math.max(0, index - 1), index);
    const problems = earlier.flatMap((older) => problemsUnder(level, older.type, schema.type, older.file));
    const result: SchemaCheckResult = { schema, status: problems.length > 0 ? 'incompatible' : 'compatible', level, checkedAgainstFiles: earlier.map((older) => older.file), problems };
    if (index === chain.length - 1) {
      if (!latest) {
        if (result.status === 'compatible') result.status = 'new-subject';
      } else if (await registeredVersion(registry, schema)) {
        result.latestVersion = latest.version;
        if (result.status === 'compatible') result.status = 'registered';
      } else {
        result.latestVersion = latest.version;
        if (!(await registry.isCompatible(subject, schema.text))) {
          const explained = problemsUnder(level, parseSchemaText(latest.schema), schema.type, `registry version ${latest.version}`);
          problems.push(...(explained.length > 0 ? explained : [`the registry finds it incompatible with version ${latest.version} under ${level}`]));
          result.status = 'incompatible';
        }
      }
    }
    results.push(result);
  }
  return results;
}

/** Checks each subject's local chain, and its newest local version against the registry. */
export async function checkSchemas(registry: SchemaRegistryClient, schemas: readonly LocalSchema[]): Promise<SchemaCheckResult[]> {
  const chains = new Map<string, LocalSchema[]>();
  for (const schema of [...schemas].sort((left, right) => left.version - right.version)) {
    chains.set(schema.subject, [...(chains.get(schema.subject) ?? []), schema]);
  }
  const results: SchemaCheckResult[] = [];
  for (const chain of chains.values()) results.push(...(await checkSubject(registry, chain)));
  return results;
}
