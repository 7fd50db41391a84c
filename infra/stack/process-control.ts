/** Starting and stopping the stack's detached processes, and telling ours from a stranger's. */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedProcessOptions {
  /** Working directory; also how {@link ownsProcess} recognises the process later. */
  cwd: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a process that outlives this one (its own process group, no shared stdio). Returns its pid. */
export function spawnDetached(command: string, args: readonly string[], options: DetachedProcessOptions): number {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** True while `pid` runs. A zombie (dead, not yet reaped by a parent that never waits) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): the signal test above is all there is
  }
}

/** When `pid` started (clock ticks after boot, from /proc): tells a reused pid from the process that had it. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive and runs in `cwd`: a pid from an old state file that the system gave to another
 * program since is never signalled. Both sides are resolved (`realpath`): the kernel reports a process's cwd
 * with every symlink resolved, while the stack folder may be named through one.
 */
export function ownsProcess(pid: number | undefined, cwd: string): pid is number {
  if (pid === undefined || !isAlive(pid)) return false;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(cwd);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 30_000): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isAlive(pid)) return 'not-running';
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(100);
  }
  signal(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  return 'killed';
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Polls `probe` until it resolves true or `timeoutMs` passes; `onTick` may abort by throwing. */
export async function waitFor(
  probe: () => Promise<boolean>,
  { timeoutMs, intervalMs = 250, onTick }: { timeoutMs: number; intervalMs?: number; onTick?: () => void },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    onTick?.();
    if (await probe().catch(() => false)) return true;
    await sleep(intervalMs);
  }
  return false;
}
