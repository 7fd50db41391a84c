/**
 * The CI gate for teams sharing schemas: each local schema against the registry's latest version of its
 * subject. The verdict is the registry's own (`POST /compatibility/subjects/{subject}/versions/latest`, under
 * the subject's level); the explanation (which field breaks what) comes from the offline comparison.
 * A subject the registry does not have is reported as new and not checked: Apicurio answers "compatible"
 * for an unknown subject, so the verdict would mean nothing.
 */
import type { LocalSchema } from './schema-directory.ts';
import type { SchemaRegistryClient } from './schema-registry-client.ts';
import { compareSchemas } from './schema-compatibility.ts';
import { parseSchemaText } from './avro-type.ts';

export interface SchemaCheckResult {
  schema: LocalSchema;
  status: 'compatible' | 'incompatible' | 'new-subject';
  level?: string;
  latestVersion?: number;
  /** For an incompatible schema: each breaking field and what it breaks. */
  problems: string[];
}

function problemsUnder(level: string, latest: LocalSchema['type'], local: LocalSchema['type']): string[] {
  const report = compareSchemas(latest, local);
  const backward = report.backward.map((problem) => `${problem} (breaks BACKWARD: the new schema cannot read existing data)`);
  const forward = report.forward.map((problem) => `${problem} (breaks FORWARD: existing readers cannot read new data)`);
  if (level.startsWith('BACKWARD')) return backward;
  if (level.startsWith('FORWARD')) return forward;
  return [...backward, ...forward];
}

export async function checkSchemas(registry: SchemaRegistryClient, schemas: readonly LocalSchema[]): Promise<SchemaCheckResult[]> {
  const results: SchemaCheckResult[] = [];
  for (const schema of schemas) {
    const latest = await registry.latest(schema.subject);
    if (!latest) {
      results.push({ schema, status: 'new-subject', problems: [] });
      continue;
    }
    const level = await registry.compatibilityLevel(schema.subject);
    const compatible = await registry.isCompatible(schema.subject, schema.text);
    const problems = compatible ? [] : problemsUnder(level, parseSchemaText(latest.schema), schema.type);
    if (!compatible && problems.length === 0) problems.push(`the registry finds it incompatible with version ${latest.version} under ${level}`);
    results.push({ schema, status: compatible ? 'compatible' : 'incompatible', level, latestVersion: latest.version, problems });
  }
  return results;
}
