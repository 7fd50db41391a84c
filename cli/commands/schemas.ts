/**
 * `orderly schemas check | register | diff`: the schema contract; `orderly schemas codegen`: TypeScript types for it.
 * Files map to subjects as `schemas/schema-directory.ts` says: `subjects.json` in the folder, else the subject
 * the producers' strategy names (`--subject-name-strategy`, default `topic` like the producer: `<topic>-value`,
 * so `--topic` is needed); versions are `<Name>.avsc`, `<Name>.v2.avsc`, ...
 */
import { Option, type Command } from 'commander';
import { ConfigurationError } from '../../core/errors.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readSchemaFile } from '../../schemas/avro-type.ts';
import { generateEventTypes, staleness } from '../../schemas/codegen/event-types-codegen.ts';
import { checkSchemas } from '../../schemas/schema-contract.ts';
import { compareSchemas } from '../../schemas/schema-compatibility.ts';
import { logicalTypeChanges } from '../../schemas/logical-type-changes.ts';
import { readSchemaDirectory } from '../../schemas/schema-directory.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { SchemaRegistryError } from '../../schemas/schema-registry-error.ts';
import { defaultSubjectNameStrategy, subjectNameStrategies, type SubjectNameStrategy } from '../../schemas/subject-name-strategy.ts';
import type { SchemaCheckResult } from '../../schemas/schema-contract.ts';
import { terminalSafeJson } from '../support/terminal-text.ts';

interface RegistryOption {
  dir: string;
  registry?: string;
  subjectNameStrategy: SubjectNameStrategy;
  topic?: string;
  json?: boolean;
}

/** The options every folder command takes: the folder, the registry, and the producers' subject naming. */
function folderOptions(command: Command): Command {
  return command
    .option('--dir <dir>', 'folder of .avsc files', 'schemas/avro')
    .option('--registry <url>', 'schema registry URL (default: SCHEMA_REGISTRY_URL or the local stack)')
    .addOption(
      new Option('--subject-name-strategy <strategy>', "how the producers name subjects (the producer's subjectNameStrategy): topic = <topic>-value, record = full name, topic-record = <topic>-<full name>")
        .choices(subjectNameStrategies)
        .default(defaultSubjectNameStrategy),
    )
    .option('--topic <topic>', 'the topic the producers write these records to (names the subject under the topic and topic-record strategies)');
}

function describeCheck({ status, level, latestVersion, checkedAgainstFiles }: SchemaCheckResult): string {
  const against = [
    ...(checkedAgainstFiles.length > 0 ? [`after ${checkedAgainstFiles.join(', ')}`] : []),
    status === 'new-subject' ? 'new subject, not in the registry' : status === 'registered' ? `already registered (latest is version ${latestVersion})` : latestVersion !== undefined ? `against registry version ${latestVersion}` : 'older local version, not checked against the registry',
  ];
  return `${against.join('; ')} under ${level}`;
}

/**
 * --registry, else SCHEMA_REGISTRY_URL, else the local stack's settings; checked first, so a wrong URL fails
 * with its name instead of every subject passing as new.
 */
async function registryClient(url: string | undefined): Promise<SchemaRegistryClient> {
  const resolved = url ?? process.env.SCHEMA_REGISTRY_URL ?? readSettings(defaultStackDir())?.SCHEMA_REGISTRY_URL;
  if (!resolved) throw new ConfigurationError(['no schema registry: pass --registry URL, set SCHEMA_REGISTRY_URL, or run `orderly stack up`']);
  const registry = new SchemaRegistryClient({ url: resolved });
  await registry.verify();
  return registry;
}

const levels = ['NONE', 'BACKWARD', 'FORWARD', 'FULL'] as const;

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('check, register and compare the Avro schemas of a folder');

  folderOptions(
    schemas
      .command('check')
      .description("check each subject's local versions in order, and the newest against the registry's latest; exit 1 on an incompatible one or a folder without .avsc files"),
  )
    .option('--json', 'print the results as JSON (for CI)')
    .action(async (options: RegistryOption) => {
      const local = readSchemaDirectory(options.dir, { strategy: options.subjectNameStrategy, topic: options.topic });
      const results = await checkSchemas(await registryClient(options.registry), local);
      const failed = results.filter((result) => result.status === 'incompatible').length;
      if (failed > 0) process.exitCode = 1;
      if (options.json) {
        const rows = results.map(({ schema, ...result }) => ({ file: schema.file, subject: schema.subject, version: schema.version, ...result }));
        console.log(terminalSafeJson({ subjectNameStrategy: options.subjectNameStrategy, topic: options.topic ?? null, checked: results.length, incompatible: failed, results: rows }));
        return;
      }
      for (const result of results) {
        console.log(`${result.status === 'incompatible' ? 'INCOMPATIBLE' : 'ok'.padEnd(12)} ${result.schema.file} -> ${result.schema.subject} (${describeCheck(result)})`);
        for (const problem of result.problems) console.log(`    ${problem}`);
      }
      console.log(`${results.length} schema(s) checked, ${failed} incompatible (subjects named by the '${options.subjectNameStrategy}' strategy)`);
    });

  folderOptions(
    schemas
      .command('register')
      .description('register each local schema under its subject, in version order; exit 1 when the registry refuses one'),
  )
    .action(async (options: RegistryOption) => {
      const registry = await registryClient(options.registry);
      for (const schema of readSchemaDirectory(options.dir, { strategy: options.subjectNameStrategy, topic: options.topic })) {
        try {
          console.log(`registered   ${schema.file} -> ${schema.subject} id ${await registry.register(schema.subject, schema.text)}`);
        } catch (error) {
          if (!(error instanceof SchemaRegistryError) || error.status !== 409) throw error;
          console.log(`REFUSED      ${schema.file} -> ${schema.subject}: incompatible with the subject's latest version (run \`orderly schemas check\`)`);
          process.exitCode = 1;
        }
      }
    });

  schemas
    .command('codegen')
    .description('write TypeScript types for every schema of the folder and the event types of each topic; with --check, exit 1 when the file is stale instead')
    .option('--dir <dir>', 'folder of .avsc files (and topics.json: { "<topic>": ["<record name>", ...] })', 'schemas/avro')
    .requiredOption('--out <file>', 'the TypeScript file to write (or to check)')
    .option('--topic <topic>', 'a topic that carries every record of the folder')
    .option('--check', 'write nothing; exit 1 when the file differs from what the schemas generate (for CI)')
    .action((options: { dir: string; out: string; topic?: string; check?: boolean }) => {
      const generated = generateEventTypes({ dir: options.dir, ...(options.topic === undefined ? {} : { topic: options.topic }) });
      if (!options.check) {
        writeFileSync(options.out, generated);
        console.log(`wrote ${options.out}`);
        return;
      }
      const problem = staleness(existsSync(options.out) ? readFileSync(options.out, 'utf8') : undefined, generated);
      if (problem === undefined) {
        console.log(`${options.out} is up to date with ${options.dir}`);
        return;
      }
      const again = ['orderly schemas codegen', '--dir', options.dir, ...(options.topic === undefined ? [] : ['--topic', options.topic]), '--out', options.out].join(' ');
      console.error(`${options.out} is stale: ${problem}.\nRegenerate it with \`${again}\` and commit the result.`);
      process.exitCode = 1;
    });

  schemas
    .command('diff')
    .description('offline: state BACKWARD / FORWARD / FULL compatibility of a new schema with an old one, and what breaks')
    .argument('<old>', 'the old .avsc file')
    .argument('<new>', 'the new .avsc file')
    .option('--require <level>', `exit 1 unless this level holds (${levels.join(', ')})`, 'NONE')
    .action((oldFile: string, newFile: string, options: { require: string }) => {
      const required = options.require.toUpperCase();
      if (!(levels as readonly string[]).includes(required)) throw new ConfigurationError([`--require ${options.require}: must be one of ${levels.join(', ')}`]);
      const [older, newer] = [readSchemaFile(oldFile), readSchemaFile(newFile)];
      const report = compareSchemas(older, newer);
      console.log(`BACKWARD (new reads old): ${report.backward.length === 0 ? 'yes' : 'NO'}`);
      for (const problem of report.backward) console.log(`    ${problem}`);
      console.log(`FORWARD  (old reads new): ${report.forward.length === 0 ? 'yes' : 'NO'}`);
      for (const problem of report.forward) console.log(`    ${problem}`);
      console.log(`FULL: ${report.level === 'FULL' ? 'yes' : 'NO'}`);
      console.log(`compatibility: ${report.level}`);
      // Not part of the verdict (Avro and the registry resolve the underlying types), but the data's meaning changes.
      const logical = logicalTypeChanges(older, newer);
      if (logical.length > 0) console.log('logical types changed (compatible to Avro and the registry, but readers see the same bytes with another meaning):');
      for (const change of logical) console.log(`    ${change}`);
      const holds = required === 'NONE' || report.level === 'FULL' || report.level === required;
      if (!holds) process.exitCode = 1;
    });
}
