/**
 * The package as a service gets it: `npm pack`, then a plain `npm install` of the tarball into a new folder
 * outside the repository, and from there (a) an ES module imports every entry point and runs a producer ->
 * ordered consumer round trip on the test stack, (b) a TypeScript project (nodenext, strict, skipLibCheck
 * false) type-checks code written against the public API, (c) `npx orderly --help` and `npx orderly stack
 * status` run. Only the tarball and the fixtures' text leave the repository; nothing in the installed folder
 * points back into it.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultStackDir, projectRoot } from '../../../infra/stack/stack-paths.ts';
import { createTestTopic, testGroupId, testStack } from '../../support/test-stack.ts';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ourManifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

/** The environment of every command in the installed folder: this Node first, no path into the repository. */
function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '').split(delimiter).filter((entry) => entry && !entry.startsWith(projectRoot));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: [dirname(process.execPath), ...path].join(delimiter), ...extra };
  for (const name of Object.keys(env)) if (name.startsWith('npm_') || name === 'INIT_CWD' || name === 'ORDERLY_STACK_DIR') delete env[name];
  return { ...env, ...extra };
}

let folder: string;

async function inFolder(command: string, args: string[], extra: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  try {
    const { stdout, stderr } = await run(command, args, { cwd: folder, env: isolatedEnv(extra), timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number | string; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'orderly-package-'));
  // `npm pack` runs `prepare`, which builds dist/ from the sources.
  const packed = await run('npm', ['pack', '--pack-destination', folder, '--json', '--silent'], { cwd: projectRoot, env: { ...process.env }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string }];
  writeFileSync(
    join(folder, 'package.json'),
    JSON.stringify({
      name: 'orderly-package-test',
      private: true,
      type: 'module',
      dependencies: { orderly: `file:./${filename}` },
      devDependencies: { typescript: ourManifest.devDependencies.typescript, '@types/node': ourManifest.devDependencies['@types/node'] },
    }),
  );
  for (const file of ['round-trip.mjs', 'typed-service.ts']) copyFileSync(join(fixtures, file), join(folder, file));
  const installed = await inFolder('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {}, 300_000);
  expect(installed.stderr + installed.stdout).not.toMatch(/npm error/);
  expect(installed.code).toBe(0);
}, 600_000);

afterAll(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('ships the build and the files a user needs, not the sources or the tests', async () => {
    const listing = await run('tar', ['-tzf', (await inFolder('sh', ['-c', 'ls orderly-*.tgz'])).stdout.trim()], { cwd: folder });
    const files = listing.stdout.split('\n').filter(Boolean).map((file) => file.replace(/^package\//, ''));
    for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/bin.js', 'dist/consumers/index.d.ts.map', 'README.md', 'LICENSE', 'CHANGELOG.md', 'schemas/avro/AccountOpened.avsc', 'observability/alerts/orderly.rules.yml', 'observability/dashboards/orderly.json', 'infra/kafka/pom.xml', 'docs/guarantees.md']) {
      expect(files).toContain(needed);
    }
    expect(files.filter((file) => /^(test|bench|consumers|core|cli)\//.test(file) || (file.endsWith('.ts') && !file.endsWith('.d.ts')))).toEqual([]);
  });

  it('imports every entry point from plain JavaScript and carries events from a producer to an ordered consumer, in order per key', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'package' });
    const { settings } = testStack();
    const result = await inFolder('node', ['round-trip.mjs'], {
      KAFKA_BROKERS: settings.KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL: settings.SCHEMA_REGISTRY_URL ?? '',
      TOPIC: topic,
      GROUP: testGroupId(),
    });
    expect(result.stderr).not.toMatch(/ERR_UNSUPPORTED|TS\d{4}|Cannot find/);
    expect(result.code).toBe(0);
    const seen = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, number[]>;
    const inOrder = Array.from({ length: 10 }, (_, index) => index + 1);
    expect(seen).toEqual({ a: inOrder, b: inOrder, c: inOrder });
  });

  it('type-checks a service written against the public API, and the README\'s samples (module nodenext, strict, skipLibCheck false)', async () => {
    // The README a user reads is the one in the installed package; its samples start with `// <file>.ts`.
    const readme = readFileSync(join(folder, 'node_modules/orderly/README.md'), 'utf8');
    const samples = [...readme.matchAll(/```ts\n\/\/ ([\w-]+\.ts)\n([\s\S]*?)```/g)].map(([, file, code]) => ({ file: file!, code: code! }));
    expect(samples.map((sample) => sample.file)).toEqual(['consumer.ts', 'publish.ts']);
    for (const sample of samples) writeFileSync(join(folder, sample.file), sample.code);
    writeFileSync(
      join(folder, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
        files: ['typed-service.ts', ...samples.map((sample) => sample.file)],
      }),
    );
    const result = await inFolder('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json']);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('runs the orderly command: help, and the stack status', async () => {
    const help = await inFolder('npx', ['--no-install', 'orderly', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: orderly/);
    expect(help.stdout).toMatch(/Example/);

    // The stack the tests run on, when this run knows its folder; else the folder's own (never started).
    const stackDir = process.env.ORDERLY_STACK_DIR ?? (testStack().kind === 'local' ? defaultStackDir() : undefined);
    const status = await inFolder('npx', ['--no-install', 'orderly', 'stack', 'status', '--json'], stackDir ? { ORDERLY_STACK_DIR: stackDir } : {});
    expect(status.stderr).not.toMatch(/\n\s+at /);
    const services = JSON.parse(status.stdout) as { service: string; healthy: boolean }[];
    expect(services.map((service) => service.service)).toEqual(['kafka', 'schema-registry', 'redis', 'postgres']);
    if (stackDir) {
      expect(services.find((service) => service.service === 'kafka')?.healthy).toBe(true);
      expect(status.code).toBe(0);
    } else {
      expect([0, 1]).toContain(status.code);
    }
  });
});
