/**
 * The stack folder's bookkeeping holds under races and odd paths: `down` recognises its processes when the
 * folder is reached through a symlink; `stack.json` is never seen half-written by a concurrent reader; a stale
 * lock (its holder dead) is broken by one process only, never by two at once. Temporary folders only: the
 * shared stack is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStack } from '../../../infra/stack/local-stack.ts';
import { isAlive, ownsProcess } from '../../../infra/stack/process-control.ts';
import { withStackLock } from '../../../infra/stack/stack-lock.ts';
import { readStackState } from '../../../infra/stack/stack-state.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderly-stack-files-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A long sleep whose working directory is `cwd`: it stands for a stack service. */
function serviceIn(cwd: string): ChildProcess {
  const child = spawn('sleep', ['120'], { cwd, stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

function run(script: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
}

/** A pid no process has now: a child that has already exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('the stack folder reached through a symlink', () => {
  it('ownsProcess recognises a service whose cwd is the real folder', async () => {
    const real = tempDir();
    const link = join(tempDir(), 'stack-link');
    symlinkSync(real, link);
    mkdirSync(join(real, 'redis'));
    const child = serviceIn(join(real, 'redis'));
    await sleep(100);
    expect(ownsProcess(child.pid, join(real, 'redis'))).toBe(true);
    expect(ownsProcess(child.pid, join(link, 'redis'))).toBe(true);
    expect(ownsProcess(child.pid, join(real, 'kafka'))).toBe(false);
  });

  it('stack down stops the services it started', async () => {
    const real = tempDir();
    const link = join(tempDir(), 'stack-link');
    symlinkSync(real, link);
    mkdirSync(join(real, 'redis'));
    const child = serviceIn(join(real, 'redis'));
    await sleep(100);
    writeFileSync(join(real, 'stack.json'), JSON.stringify({ redis: { pid: child.pid, port: 1 } }));
    const lines: string[] = [];
    await new LocalStack({ dir: link, log: (line) => lines.push(line), env: {} }).down();
    expect(lines.join('\n')).toContain(`redis: stopped (pid ${child.pid})`);
    expect(isAlive(child.pid!)).toBe(false);
  });
});

describe('stack.json', () => {
  it('is never seen half-written while another process rewrites it 500 times', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'stack.json'), JSON.stringify({ kafka: { pid: 1, port: 19_092, controllerPort: 19_093 } }));
    let writing = true;
    const writer = run('test/unit/infra/support/state-writer.ts', [dir, '500']).finally(() => (writing = false));
    let reads = 0;
    const torn: string[] = [];
    while (writing) {
      try {
        readStackState(dir);
      } catch (error) {
        torn.push((error as Error).message);
      }
      reads++;
      if (reads % 50 === 0) await sleep(0);
    }
    expect(await writer).toBe(0);
    expect(reads).toBeGreaterThan(100);
    expect(torn).toEqual([]);
    expect(readStackState(dir).kafka?.pid).toBe(1_499);
  });

  it('a corrupt file is an error that names the file and the fix', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'stack.json'), '{"kafka": {"pid": 12');
    expect(() => readStackState(dir)).toThrow(/stack\.json.*(delete|remove)/s);
  });
});

describe('the stack lock', () => {
  it('a stale lock is broken by one process at a time: 6 contenders, 5 rounds each, never two holders', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'stack.lock'), String(await deadPid()));
    const codes = await Promise.all(Array.from({ length: 6 }, () => run('test/unit/infra/support/lock-contender.ts', [dir, '5'])));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    const lines = readFileSync(join(dir, 'journal'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(60);
    for (let index = 0; index < lines.length; index += 2) {
      const [enter, exit] = [lines[index]!, lines[index + 1]!];
      expect(enter.startsWith('enter '), `line ${index}: ${enter}`).toBe(true);
      expect(exit, `line ${index + 1}`).toBe(enter.replace('enter', 'exit'));
    }
    expect(existsSync(join(dir, 'stack.lock'))).toBe(false);
  });

  it('a stale lock seen by two processes is broken by one: the other does not take the lock the first now holds', async () => {
    const dir = tempDir();
    const lockFile = join(dir, 'stack.lock');
    writeFileSync(lockFile, String(await deadPid()));
    // The other process (played by a live child) breaks the stale lock and takes it between our look and our break.
    const other = serviceIn(dir);
    await sleep(50);
    let ran = false;
    const taking = withStackLock(dir, async () => (ran = true), {
      timeoutMs: 500,
      onStaleLock: () => writeFileSync(lockFile, String(other.pid)),
    });
    await expect(taking).rejects.toThrow(new RegExp(`pid ${other.pid}`));
    expect(ran).toBe(false);
    expect(readFileSync(lockFile, 'utf8')).toBe(String(other.pid));
  });

  it('a breaker left by a process that died mid-break is cleared, then the stale lock is broken', async () => {
    const dir = tempDir();
    const lockFile = join(dir, 'stack.lock');
    writeFileSync(lockFile, String(await deadPid()));
    writeFileSync(`${lockFile}.break`, String(await deadPid()));
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${lockFile}.break`, old, old);
    expect(await withStackLock(dir, async () => 'ran', { timeoutMs: 5_000 })).toBe('ran');
    expect(existsSync(lockFile)).toBe(false);
    expect(existsSync(`${lockFile}.break`)).toBe(false);
  });

  it('a pid reused by another program does not keep a dead holder\'s lock', async () => {
    const dir = tempDir();
    // Our own pid with a start time that is not ours: the holder that wrote it is gone, the pid lives on.
    writeFileSync(join(dir, 'stack.lock'), `${process.pid} 1`);
    expect(await withStackLock(dir, async () => 'ran', { timeoutMs: 2_000 })).toBe('ran');
  });

  it('a lock held by a live process waits, then names the holder', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'stack.lock'), String(process.pid));
    await expect(withStackLock(dir, async () => 'never', { timeoutMs: 300 })).rejects.toThrow(new RegExp(`pid ${process.pid}`));
  });
});
