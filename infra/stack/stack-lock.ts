/** One `stack up` or `down` at a time per stack folder (the CLI and a test run may race). */
import { openSync, closeSync, writeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../../core/errors.ts';
import { isAlive } from './process-control.ts';

export async function withStackLock<T>(stackDir: string, work: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const lockFile = join(stackDir, 'stack.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockFile, 'utf8').trim() || 0);
      if (!holder || !isAlive(holder)) {
        rmSync(lockFile, { force: true }); // left by a process that died holding it
        continue;
      }
      if (Date.now() > deadline) {
        throw new OrderlyError('TIMEOUT', `another orderly process (pid ${holder}) holds ${lockFile}`);
      }
      await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
