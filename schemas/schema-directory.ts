/**
 * The local schemas of a folder (`schemas/avro/` by default) and the subject each belongs to.
 *
 * Mapping files to subjects: a `subjects.json` in the folder (`{ "<file>.avsc": "<subject>" }`) wins;
 * otherwise the subject is the one the producers' subject-name strategy names ({@link SubjectNaming}: the
 * same setting as the producer's, `<topic>-value` by default), so `schemas check` looks at the subject the
 * producers really use. Versions of one schema are separate files, `<Name>.avsc` then `<Name>.v2.avsc`,
 * `<Name>.v3.avsc`…: they are listed per subject in version order, so `register` registers them in that order.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import { ConfigurationError } from '../core/errors.ts';
import { fullNameOf, parseSchemaText, writtenSchemaText } from './avro-type.ts';
import { forbiddenFieldsProblem } from './forbidden-field-names.ts';
import { strategyNeedsTopic, subjectName, type SubjectNaming } from './subject-name-strategy.ts';

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

function readSubjectMap(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigurationError([`${path}: not valid JSON (${(error as Error).message}); expected { "<file>.avsc": "<subject>" }`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((subject) => typeof subject !== 'string')) {
    throw new ConfigurationError([`${path}: expected an object { "<file>.avsc": "<subject>" }`]);
  }
  return parsed as Record<string, string>;
}

/**
 * The schemas of a folder with their subjects. Throws a {@link ConfigurationError} listing every problem:
 * no `.avsc` file, an unreadable schema, a strategy that needs a topic without one, two record types that
 * the strategy puts under one subject, or two files with one version.
 */
export function readSchemaDirectory(directory: string, naming: SubjectNaming): LocalSchema[] {
  if (!existsSync(directory)) throw new ConfigurationError([`schema folder ${directory} does not exist (--dir)`]);
  const files = readdirSync(directory).filter((name) => name.endsWith('.avsc')).sort();
  if (files.length === 0) throw new ConfigurationError([`schema folder ${directory} has no .avsc file (--dir)`]);
  const mapPath = join(directory, subjectMapFile);
  const subjectMap = readSubjectMap(mapPath);
  const unmapped = files.filter((file) => !Object.hasOwn(subjectMap, file));
  if (unmapped.length > 0 && strategyNeedsTopic(naming.strategy) && !naming.topic) {
    throw new ConfigurationError([
      `the subject-name strategy '${naming.strategy}' names subjects after the topic (${naming.strategy === 'topic' ? '<topic>-value' : '<topic>-<record name>'}): give the topic the producers write to (--topic), or the strategy they use (--subject-name-strategy record|topic|topic-record), or map ${unmapped.join(', ')} in ${subjectMapFile}`,
    ]);
  }
  const problems: string[] = [];
  const schemas: LocalSchema[] = [];
  const recordsBySubject = new Map<string, Set<string>>();
  for (const file of files) {
    const text = readFileSync(join(directory, file), 'utf8');
    try {
      const type = parseSchemaText(text);
      const forbidden = forbiddenFieldsProblem(type);
      if (forbidden) throw new Error(forbidden);
      let subject: string;
      if (Object.hasOwn(subjectMap, file)) {
        subject = String(subjectMap[file]);
      } else {
        subject = subjectName(naming.strategy, naming.topic ?? '', fullNameOf(type));
        recordsBySubject.set(subject, (recordsBySubject.get(subject) ?? new Set()).add(fullNameOf(type)));
      }
      // The file's own JSON (compact), the same text a producer sends for this schema: logical types, docs and
      // defaults included (avsc's `schema()` drops them).
      schemas.push({ file, subject, version: versionOf(file), text: writtenSchemaText(type), type });
    } catch (error) {
      problems.push(`${join(directory, file)}: ${(error as Error).message}`);
    }
  }
  for (const [subject, records] of recordsBySubject) {
    if (records.size > 1) {
      problems.push(
        `the subject-name strategy '${naming.strategy}' puts ${records.size} record types under subject ${subject} (${[...records].join(', ')}): a topic with several event types needs --subject-name-strategy topic-record or record, as its producers use`,
      );
    }
  }
  const seen = new Map<string, string>();
  for (const schema of schemas) {
    const key = `${schema.subject}@${schema.version}`;
    const other = seen.get(key);
    if (other) problems.push(`${schema.file} and ${other} are both version ${schema.version} of subject ${schema.subject}`);
    seen.set(key, schema.file);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return schemas.sort((left, right) => left.subject.localeCompare(right.subject) || left.version - right.version);
}
