/**
 * The worker processes of an all-in-one demo run: each one `orderly demo work` (a consumer-group member).
 * A worker that exits on its own is reported and replaced; `killRandom` SIGKILLs one (chaos) and starts
 * another in its place. The last lines of each worker's stderr are kept to explain a failure. Each worker has a
 * slot (1 to the count started), and its replacement takes the same slot: the command can give a slot a stable
 * identity (the demo's static group membership: the replacement takes the dead worker's place in the group).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface WorkerCommand {
  /** The executable, e.g. `process.execPath`. */
  command: string;
  /** Its arguments for one member, in its slot (a replacement gets the slot of the worker it replaces). */
  args: (member: string, slot: number) => string[];
  env: NodeJS.ProcessEnv;
}

interface Worker {
  member: string;
  slot: number;
  child: ChildProcess;
  stderrTail: string[];
  expectedExit: boolean;
}

const tailLines = 20;

export class WorkerPool {
  readonly #command: WorkerCommand;
  readonly #onNote: (line: string) => void;
  readonly #workers = new Map<string, Worker>();
  #started = 0;
  #killed = 0;
  #crashed = 0;
  #stopping = false;

  /** @param onNote receives one line per thing worth telling (a worker replaced, a crash and its stderr). */
  constructor(command: WorkerCommand, onNote: (line: string) => void) {
    this.#command = command;
    this.#onNote = onNote;
  }

  get alive(): number {
    return this.#workers.size;
  }
  get killed(): number {
    return this.#killed;
  }
  /** Workers that exited without being asked to. */
  get crashed(): number {
    return this.#crashed;
  }

  start(count: number): void {
    for (let index = 0; index < count; index++) this.#spawn(this.#workers.size + 1);
  }

  /** SIGKILLs a random worker and starts a new one; returns what happened, for the display. */
  killRandom(): string | undefined {
    const workers = [...this.#workers.values()];
    const victim = workers[Math.floor(Math.random() * workers.length)];
    if (!victim) return undefined;
    victim.expectedExit = true;
    this.#workers.delete(victim.member);
    victim.child.kill('SIGKILL');
    this.#killed++;
    const replacement = this.#spawn(victim.slot);
    return `chaos: SIGKILL ${victim.member} (pid ${victim.child.pid}), started ${replacement.member} (pid ${replacement.child.pid})`;
  }

  /** SIGTERMs every worker and waits for them to leave the group (SIGKILL after `graceMs`). */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#workers.values()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.expectedExit = true;
            if (worker.child.exitCode !== null || worker.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => worker.child.kill('SIGKILL'), graceMs);
            worker.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.child.kill('SIGTERM');
          }),
      ),
    );
    this.#workers.clear();
  }

  /** SIGKILLs every worker at once (the run is being abandoned). */
  killAll(): void {
    this.#stopping = true;
    for (const worker of this.#workers.values()) worker.child.kill('SIGKILL');
    this.#workers.clear();
  }

  #spawn(slot: number): Worker {
    const member = `worker-${++this.#started}`;
    const child = spawn(this.#command.command, this.#command.args(member, slot), { env: this.#command.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const worker: Worker = { member, slot, child, stderrTail: [], expectedExit: false };
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      worker.stderrTail.push(...text.split('\n').filter((line) => line.trim().length > 0));
      worker.stderrTail.splice(0, Math.max(0, worker.stderrTail.length - tailLines));
    });
    child.on('exit', (code, signal) => {
      if (worker.expectedExit || this.#stopping) return;
      this.#crashed++;
      this.#workers.delete(member);
      this.#onNote(`${member} (pid ${child.pid}) exited by itself (${signal ?? `code ${code}`}); its last stderr lines:`);
      for (const line of worker.stderrTail) this.#onNote(`    ${line}`);
      if (this.#crashed <= 5) {
        const replacement = this.#spawn(slot);
        this.#onNote(`started ${replacement.member} (pid ${replacement.child.pid}) in its place`);
      }
    });
    this.#workers.set(member, worker);
    return worker;
  }
}
