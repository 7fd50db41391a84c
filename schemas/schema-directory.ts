/**
 * The local schemas of a folder (`schemas/avro/` by default) and the subject each belongs to.
 *
 * Mapping files to subjects: a `subjects.json` in the folder (`{ "<file>.avsc": "<subject>" }`) wins;
 * otherwise the subject is the record's full name (RecordNameStrategy, so several event types can share a
 * topic). Versions of one schema are separate files, `<Name>.avsc` then `<Name>.v2.avsc`, `<Name>.v3.avsc`…:
 * they are listed per subject in version order, so `register` registers them in that order.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import { ConfigurationError } from '../core/errors.ts';
import { fullNameOf, parseSchemaText } from './avro-type.ts';
import { forbiddenFieldsProblem } from './forbidden-field-names.ts';

export interface LocalSchema {
  file: string;
  subject: string;
  /** From the `.vN` suffix of the file name; 1 without one. */
  version: number;
  text: string;
  type: Type;
}

export const subjectMapFile = 'subjects.json';

function versionOf(file: string): number {
  const match = /\.v(\d+)\.avsc$/.exec(file);
  return match ? Number(match[1]) : 1;
}

export function readSchemaDirectory(directory: string): LocalSchema[] {
  if (!existsSync(directory)) throw new ConfigurationError([`schema folder ${directory} does not exist (--dir)`]);
  const mapPath = join(directory, subjectMapFile);
  const subjectMap = existsSync(mapPath) ? (JSON.parse(readFileSync(mapPath, 'utf8')) as Record<string, string>) : {};
  const problems: string[] = [];
  const schemas: LocalSchema[] = [];
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.avsc')).sort()) {
    const text = readFileSync(join(directory, file), 'utf8');
    try {
      const type = parseSchemaText(text);
      const forbidden = forbiddenFieldsProblem(type);
      if (forbidden) throw new Error(forbidden);
      const subject = Object.hasOwn(subjectMap, file) ? String(subjectMap[file]) : fullNameOf(type);
      // The file's own JSON, docs and defaults included (avsc's `schema()` is the canonical form: no defaults).
      schemas.push({ file, subject, version: versionOf(file), text: JSON.stringify(JSON.parse(text)), type });
    } catch (error) {
      problems.push(`${join(directory, file)}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return schemas.sort((left, right) => left.subject.localeCompare(right.subject) || left.version - right.version);
}
