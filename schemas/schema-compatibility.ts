/**
 * Offline compatibility of two Avro schemas, judged by avsc's own resolution rules (the same as Java's):
 * - BACKWARD: the new schema reads data written with the old one (consumers upgrade first);
 * - FORWARD: the old schema reads data written with the new one (producers upgrade first);
 * - FULL: both.
 * Each problem names the field and what breaks.
 */
import type { Type } from 'avsc';

export interface CompatibilityReport {
  backward: string[];
  forward: string[];
  /** The strongest level that holds. */
  level: 'FULL' | 'BACKWARD' | 'FORWARD' | 'NONE';
}

interface RecordField {
  name: string;
  type: Type;
  aliases?: string[];
  defaultValue(): unknown;
}

function fieldsOf(type: Type): RecordField[] | undefined {
  return (type as unknown as { fields?: RecordField[] }).fields;
}

function resolves(reader: Type, writer: Type): Error | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Why `reader` cannot read data written with `writer`; empty when it can. */
export function readProblems(reader: Type, writer: Type, path = ''): string[] {
  const failure = resolves(reader, writer);
  if (!failure) return [];
  const readerFields = fieldsOf(reader);
  const writerFields = fieldsOf(writer);
  const where = path === '' ? (reader.name ?? reader.typeName) : path;
  if (!readerFields || !writerFields) {
    return [`${where}: written as ${describe(writer)}, cannot be read as ${describe(reader)}`];
  }
  const problems: string[] = [];
  const readerNames = [reader.name, ...(reader.aliases ?? [])];
  if (writer.name && !readerNames.includes(writer.name)) {
    problems.push(`${where}: the record is named ${reader.name} but the data was written as ${writer.name} (add an alias)`);
  }
  for (const field of readerFields) {
    const fieldPath = path === '' ? field.name : `${path}.${field.name}`;
    const names = [field.name, ...(field.aliases ?? [])];
    const written = writerFields.find((candidate) => names.includes(candidate.name));
    if (written) {
      problems.push(...readProblems(field.type, written.type, fieldPath));
    } else if (field.defaultValue() === undefined) {
      problems.push(`${fieldPath}: the reading schema requires the field, which has no default and is missing from the written data`);
    }
  }
  return problems.length > 0 ? problems : [`${where}: ${failure.message}`];
}

function describe(type: Type): string {
  return type.name ? `${type.typeName} ${type.name}` : type.typeName;
}

export function compareSchemas(oldType: Type, newType: Type): CompatibilityReport {
  const backward = readProblems(newType, oldType);
  const forward = readProblems(oldType, newType);
  let level: CompatibilityReport['level'] = 'NONE';
  if (backward.length === 0 && forward.length === 0) level = 'FULL';
  else if (backward.length === 0) level = 'BACKWARD';
  else if (forward.length === 0) level = 'FORWARD';
  return { backward, forward, level };
}
