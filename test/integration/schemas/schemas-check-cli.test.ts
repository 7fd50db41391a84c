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

async function check(directory: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, ['cli/bin.ts', 'schemas', 'check', '--dir', directory, '--registry', registryUrl()], { cwd: projectRoot });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout + failed.stderr };
  }
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
});
