/**
 * `orderly schemas check | register | diff`: the schema contract.
 * Files map to subjects as `schemas/schema-directory.ts` says: `subjects.json` in the folder, else the
 * record's full name (RecordNameStrategy); versions are `<Name>.avsc`, `<Name>.v2.avsc`, ...
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigurationError } from '../../core/errors.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { parseSchemaText } from '../../schemas/avro-type.ts';
import { checkSchemas } from '../../schemas/schema-contract.ts';
import { compareSchemas } from '../../schemas/schema-compatibility.ts';
import { readSchemaDirectory } from '../../schemas/schema-directory.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { SchemaRegistryError } from '../../schemas/schema-registry-error.ts';

interface RegistryOption {
  dir: string;
  registry?: string;
}

/** --registry, else SCHEMA_REGISTRY_URL, else the local stack's settings. */
function registryClient(url: string | undefined): SchemaRegistryClient {
  const resolved = url ?? process.env.SCHEMA_REGISTRY_URL ?? readSettings(defaultStackDir())?.SCHEMA_REGISTRY_URL;
  if (!resolved) throw new ConfigurationError(['no schema registry: pass --registry URL, set SCHEMA_REGISTRY_URL, or run `orderly stack up`']);
  return new SchemaRegistryClient({ url: resolved });
}

const levels = ['NONE', 'BACKWARD', 'FORWARD', 'FULL'] as const;

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('check, register and compare the Avro schemas of a folder');

  schemas
    .command('check')
    .description("test each local schema against the registry's latest version of its subject; exit 1 on an incompatible one")
    .option('--dir <dir>', 'folder of .avsc files', 'schemas/avro')
    .option('--registry <url>', 'schema registry URL (default: SCHEMA_REGISTRY_URL or the local stack)')
    .action(async (options: RegistryOption) => {
      const results = await checkSchemas(registryClient(options.registry), readSchemaDirectory(options.dir));
      for (const { schema, status, level, latestVersion, problems } of results) {
        const against = status === 'new-subject' ? 'new subject, nothing to check against' : `against version ${latestVersion} under ${level}`;
        console.log(`${status === 'incompatible' ? 'INCOMPATIBLE' : 'ok'.padEnd(12)} ${schema.file} -> ${schema.subject} (${against})`);
        for (const problem of problems) console.log(`    ${problem}`);
      }
      const failed = results.filter((result) => result.status === 'incompatible').length;
      console.log(`${results.length} schema(s) checked, ${failed} incompatible`);
      if (failed > 0) process.exitCode = 1;
    });

  schemas
    .command('register')
    .description('register each local schema under its subject, in version order; exit 1 when the registry refuses one')
    .option('--dir <dir>', 'folder of .avsc files', 'schemas/avro')
    .option('--registry <url>', 'schema registry URL (default: SCHEMA_REGISTRY_URL or the local stack)')
    .action(async (options: RegistryOption) => {
      const registry = registryClient(options.registry);
      for (const schema of readSchemaDirectory(options.dir)) {
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
    .command('diff')
    .description('offline: state BACKWARD / FORWARD / FULL compatibility of a new schema with an old one, and what breaks')
    .argument('<old>', 'the old .avsc file')
    .argument('<new>', 'the new .avsc file')
    .option('--require <level>', `exit 1 unless this level holds (${levels.join(', ')})`, 'NONE')
    .action((oldFile: string, newFile: string, options: { require: string }) => {
      const required = options.require.toUpperCase();
      if (!(levels as readonly string[]).includes(required)) throw new ConfigurationError([`--require ${options.require}: must be one of ${levels.join(', ')}`]);
      const report = compareSchemas(parseSchemaText(readFileSync(oldFile, 'utf8')), parseSchemaText(readFileSync(newFile, 'utf8')));
      console.log(`BACKWARD (new reads old): ${report.backward.length === 0 ? 'yes' : 'NO'}`);
      for (const problem of report.backward) console.log(`    ${problem}`);
      console.log(`FORWARD  (old reads new): ${report.forward.length === 0 ? 'yes' : 'NO'}`);
      for (const problem of report.forward) console.log(`    ${problem}`);
      console.log(`FULL: ${report.level === 'FULL' ? 'yes' : 'NO'}`);
      console.log(`compatibility: ${report.level}`);
      const holds = required === 'NONE' || report.level === 'FULL' || report.level === required;
      if (!holds) process.exitCode = 1;
    });
}
