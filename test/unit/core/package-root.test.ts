/** Files shipped beside the code are found from the package root, in a checkout and in an installed package. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isInstalledPackage, packageRoot } from '../../../core/package-root.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';

const folder = mkdtempSync(join(tmpdir(), 'orderly-root-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('packageRoot', () => {
  it('finds the checkout from a source file and the installed package from its compiled dist/ file', () => {
    expect(packageRoot(new URL('../../../infra/stack/stack-paths.ts', import.meta.url))).toBe(projectRoot);
    const installed = join(folder, 'service/node_modules/orderly');
    mkdirSync(join(installed, 'dist/infra/stack'), { recursive: true });
    writeFileSync(join(installed, 'package.json'), '{"name":"orderly"}');
    expect(packageRoot(pathToFileURL(join(installed, 'dist/infra/stack/stack-paths.js')))).toBe(installed);
    expect(isInstalledPackage(installed)).toBe(true);
    expect(isInstalledPackage(projectRoot)).toBe(projectRoot.split('/').includes('node_modules'));
  });

  it('says so when there is no package.json above', () => {
    expect(() => packageRoot(pathToFileURL('/no-such-folder/file.js'))).toThrow(/no package.json above/);
  });
});
