/**
 * A process that takes the stack lock `rounds` times (`node lock-contender.ts <dir> <rounds>`) and appends
 * `enter <pid>` / `exit <pid>` around a short critical section to `<dir>/journal`: two holders at once show as
 * an `enter` following an `enter`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withStackLock } from '../../../../infra/stack/stack-lock.ts';

const [dir, rounds] = [process.argv[2]!, Number(process.argv[3] ?? 1)];
const journal = join(dir, 'journal');
for (let round = 0; round < rounds; round++) {
  await withStackLock(
    dir,
    async () => {
      appendFileSync(journal, `enter ${process.pid}\n`);
      await sleep(5);
      appendFileSync(journal, `exit ${process.pid}\n`);
    },
    { timeoutMs: 60_000 },
  );
}
