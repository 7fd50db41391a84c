/**
 * One `stack up` or `down` at a time per stack folder (the CLI and a test run may race).
 *
 * The lock is `stack.lock`, created by a hard link (only one process can create it, and never half-written), holding its owner's pid
 * and process start time (so a pid the system reused for another program does not keep a dead owner's lock).
 * A lock whose owner is gone is broken under a second, short-lived `O_EXCL` file (`stack.lock.break`): the
 * breaker reads the lock again while it holds that file and removes it only if its owner is still the dead
 * one, so two processes that both saw the same stale lock never both break it (one of them would otherwise
 * delete the lock the other had just taken).
 */
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../../core/errors.ts';
import { isAlive, processStartTime } from './process-control.ts';

export interface StackLockOptions {
  /** How long to wait for a live holder, in ms. @defaultValue 300000 */
  timeoutMs?: number;
  /** Test seam: called when a stale lock was seen, before it is broken (another process may act meanwhile). */
  onStaleLock?: (holderPid: number) => void;
}

/** A breaker file older than this whose owner is gone was left by a crash in the middle of a break. */
const staleBreakerMs = 10_000;

export async function withStackLock<T>(stackDir: string, work: () => Promise<T>, { timeoutMs = 300_000, onStaleLock }: StackLockOptions = {}): Promise<T> {
  const lockFile = join(stackDir, 'stack.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryCreate(lockFile)) break;
    const holder = readHolder(lockFile);
    if (holder !== undefined && !holderAlive(holder)) {
      onStaleLock?.(holder.pid);
      if (breakStaleLock(lockFile)) continue;
    } else if (holder === undefined) {
      continue; // released between our create and our read
    }
    if (Date.now() > deadline) {
      throw new OrderlyError('TIMEOUT', `another orderly process (pid ${holder?.pid ?? '?'}) holds ${lockFile}: wait for it, or stop it`);
    }
    await sleep(100 + Math.random() * 100);
  }
  try {
    return await work();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/**
 * Removes `lockFile` if its holder is gone, judged again under the breaker file. False when the lock is held
 * by a live process (it may have been taken since the caller looked) or another process is breaking it now.
 */
export function breakStaleLock(lockFile: string): boolean {
  const breaker = `${lockFile}.break`;
  if (!tryCreate(breaker)) {
    removeStaleBreaker(breaker);
    return false;
  }
  try {
    const holder = readHolder(lockFile);
    if (holder === undefined) return true;
    if (holderAlive(holder)) return false;
    rmSync(lockFile, { force: true });
    return true;
  } finally {
    rmSync(breaker, { force: true });
  }
}

interface Holder {
  pid: number;
  startTime: string | undefined;
}

/**
 * Creates `file` holding our pid and start time; false when it exists. The content is written to a file of our
 * own first and then hard-linked to `file` (link fails when `file` exists, like `O_EXCL`), so no other process
 * ever reads the lock half-written: an empty lock would look like a dead holder's and be broken while held.
 */
function tryCreate(file: string): boolean {
  const own = `${file}.${process.pid}.tmp`;
  writeFileSync(own, `${process.pid} ${processStartTime(process.pid) ?? ''}`.trim());
  try {
    linkSync(own, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(own, { force: true });
  }
}

/** The holder named in a lock file; undefined when the file is gone. An empty or garbled file names pid 0 (dead). */
function readHolder(file: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const [pid, startTime] = text.trim().split(/\s+/);
  const parsed = Number(pid);
  return { pid: Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 0, startTime };
}

function holderAlive({ pid, startTime }: Holder): boolean {
  if (pid === 0 || !isAlive(pid)) return false;
  // The same pid, started at another time: the system gave the dead holder's pid to another program.
  const now = processStartTime(pid);
  return startTime === undefined || now === undefined || now === startTime;
}

/**
 * A breaker whose owner died mid-break: moved aside under a name of our own first, so two processes that both
 * find it cannot remove a fresh breaker the other has created since; one that turns out live is put back.
 */
function removeStaleBreaker(breaker: string): void {
  const holder = readHolder(breaker);
  if (holder === undefined || holderAlive(holder)) return;
  try {
    if (Date.now() - statSync(breaker).mtimeMs < staleBreakerMs) return;
    const aside = `${breaker}.${process.pid}`;
    renameSync(breaker, aside);
    const moved = readHolder(aside);
    if (moved !== undefined && holderAlive(moved)) linkSync(aside, breaker);
    rmSync(aside, { force: true });
  } catch {
    // Gone meanwhile, or put back by its owner: the next round looks again.
  }
}
