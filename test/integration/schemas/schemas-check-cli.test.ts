/** `orderly schemas check` as a child process against the real registry: exit 1 on an incompatible schema. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registryUrl, testRegistry, testSubject } from './registry-helpers.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';

const run = promisify(execFile);

const v1 = { type: 'record', name: 'Opened', namespace: 'orderly.test', fields: [{ name: 'accountId', type: 'string' }] };

async function check(directory: string, ...flags: string[]): Promise<{ code: number; stdout: string }> {
  const registry = flags.includes('--registry') ? [] : ['--registry', registryUrl()];
  try {
    const { stdout } = await run(process.execPath, ['cli/bin.ts', 'schemas', 'check', '--dir', directory, ...registry, ...flags], { cwd: projectRoot });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout + failed.stderr };
  }
}

/** A folder of `.avsc` files, without `subjects.json`: subjects come from the strategy. */
function versionFolder(files: Record<string, object>): string {
  const directory = mkdtempSync(join(tmpdir(), 'orderly-schemas-'));
  for (const [file, schema] of Object.entries(files)) writeFileSync(join(directory, file), JSON.stringify(schema));
  return directory;
}

function schemaFolder(subject: string, schema: object): string {
  const directory = mkdtempSync(join(tmpdir(), 'orderly-schemas-'));
  writeFileSync(join(directory, 'Opened.avsc'), JSON.stringify(schema));
  writeFileSync(join(directory, 'subjects.json'), JSON.stringify({ 'Opened.avsc': subject }));
  return directory;
}

describe('orderly schemas check', () => {
  it('exits 1 on an incompatible schema and names the field and what it breaks; exits 0 on a compatible one', async () => {
    const subject = testSubject('cli-check');
    await testRegistry().register(subject, JSON.stringify(v1));

    const incompatible = await check(schemaFolder(subject, { ...v1, fields: [...v1.fields, { name: 'openedAt', type: 'long' }] }));
    expect(incompatible.code).toBe(1);
    expect(incompatible.stdout).toMatch(/INCOMPATIBLE\s+Opened\.avsc/);
    expect(incompatible.stdout).toMatch(/openedAt: .*no default.*breaks BACKWARD/);

    const compatible = await check(schemaFolder(subject, { ...v1, fields: [...v1.fields, { name: 'openedAt', type: 'long', default: 0 }] }));
    expect(compatible.stdout).toMatch(/ok\s+Opened\.avsc -> .* under BACKWARD/);
    expect(compatible.code).toBe(0);
  });

  it('reports a subject the registry does not have as new instead of trusting its "compatible" answer', async () => {
    const subject = testSubject('cli-new');
    const result = await check(schemaFolder(subject, v1));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/new subject/);
  });

  it('checks only the newest local version against the registry, so a legal change passes (the old file is not blamed)', async () => {
    const subject = testSubject('cli-chain');
    const topic = subject.slice(0, -'-value'.length);
    const withOwner = { ...v1, fields: [...v1.fields, { name: 'owner', type: 'string' }] };
    // Removing a field is BACKWARD compatible: v2 reads v1 data. The registry has both.
    await testRegistry().register(subject, JSON.stringify(withOwner));
    await testRegistry().register(subject, JSON.stringify(v1));
    const folder = versionFolder({ 'Opened.avsc': withOwner, 'Opened.v2.avsc': v1 });
    const result = await check(folder, '--topic', topic);
    expect(result.stdout).not.toMatch(/INCOMPATIBLE/);
    expect(result.stdout).toMatch(/ok\s+Opened\.avsc -> .*older local version/);
    expect(result.stdout).toMatch(/ok\s+Opened\.v2\.avsc -> .*after Opened\.avsc; already registered/);
    expect(result.code).toBe(0);
  });

  it('checks the local chain among itself and blames the file that breaks it, with --json for CI', async () => {
    const subject = testSubject('cli-local-chain');
    const topic = subject.slice(0, -'-value'.length);
    await testRegistry().register(subject, JSON.stringify(v1));
    const folder = versionFolder({ 'Opened.avsc': v1, 'Opened.v2.avsc': { ...v1, fields: [...v1.fields, { name: 'openedAt', type: 'long' }] } });
    const result = await check(folder, '--topic', topic, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { incompatible: number; results: { file: string; subject: string; status: string; checkedAgainstFiles: string[]; problems: string[] }[] };
    expect(report.incompatible).toBe(1);
    expect(report.results.map(({ file, subject: named, status }) => [file, named, status])).toEqual([
      ['Opened.avsc', subject, 'compatible'],
      ['Opened.v2.avsc', subject, 'incompatible'],
    ]);
    expect(report.results[1]!.checkedAgainstFiles).toEqual(['Opened.avsc']);
    expect(report.results[1]!.problems.join()).toMatch(/openedAt: .*no default.*cannot read data written with Opened\.avsc/);
  });

  it("names subjects as the producer does (<topic>-value), so a schema of the producer's subject cannot pass as a new subject", async () => {
    const subject = testSubject('cli-strategy');
    const topic = subject.slice(0, -'-value'.length);
    await testRegistry().register(subject, JSON.stringify(v1));
    const folder = versionFolder({ 'Opened.avsc': { ...v1, fields: [...v1.fields, { name: 'openedAt', type: 'long' }] } });
    const byProducerDefault = await check(folder, '--topic', topic);
    expect(byProducerDefault.stdout).toMatch(new RegExp(`INCOMPATIBLE\\s+Opened\\.avsc -> ${subject}`));
    expect(byProducerDefault.code).toBe(1);
    const withoutTopic = await check(folder);
    expect(withoutTopic.code).toBe(1);
    expect(withoutTopic.stdout).toMatch(/strategy 'topic'.*--topic/);
  });

  it('exits 1 on a folder with no .avsc file, naming it', async () => {
    const empty = versionFolder({});
    const result = await check(empty, '--subject-name-strategy', 'record');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`schema folder ${empty} has no .avsc file`);
  });

  it('exits 1 naming a registry URL that does not serve the registry API, instead of passing every subject as new', async () => {
    const wrong = new URL(registryUrl()).origin; // the Confluent-style path on Apicurio
    const result = await check(schemaFolder(testSubject('cli-wrong-url'), v1), '--registry', wrong);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${wrong} does not serve the schema-registry API`);
    expect(result.stdout).not.toMatch(/new subject/);
  });
});
