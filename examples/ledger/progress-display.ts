/**
 * The live progress of an all-in-one run: on a terminal one line redrawn in place; elsewhere (a pipe, a CI
 * log) a plain line every `plainEveryMs`. Notes (chaos kills, crashes) are printed on lines of their own.
 */
export interface Progress {
  elapsedMs: number;
  published: number;
  events: number;
  /** Applied in this run. */
  applied: number;
  /** Records sent to a retry tier in this run (a failed head and the successors parked behind it). */
  retried: number;
  /** Records sent to the DLT in this run. */
  deadLettered: number;
  /** Applied per second over the last few seconds. */
  ratePerSecond: number;
  workers: number;
  kills: number;
}

const count = (value: number): string => value.toLocaleString('en-US');

export function formatProgress(progress: Progress): string {
  const share = progress.events > 0 ? ` (${((100 * progress.applied) / progress.events).toFixed(1)}%)` : '';
  return [
    `${(progress.elapsedMs / 1000).toFixed(1).padStart(6)}s`,
    `published ${count(progress.published)}/${count(progress.events)}`,
    `applied ${count(progress.applied)}${share}`,
    `retried ${count(progress.retried)}`,
    `dead-lettered ${count(progress.deadLettered)}`,
    `rate ${count(Math.round(progress.ratePerSecond))}/s`,
    `workers ${progress.workers}`,
    `kills ${progress.kills}`,
  ].join('  ');
}

export class ProgressDisplay {
  readonly #stream: NodeJS.WriteStream;
  readonly #interactive: boolean;
  readonly #plainEveryMs: number;
  #lastPlainAt = -Infinity;
  #current = '';

  constructor(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 5_000) {
    this.#stream = stream;
    this.#interactive = stream.isTTY === true;
    this.#plainEveryMs = plainEveryMs;
  }

  update(progress: Progress, force = false): void {
    this.#current = formatProgress(progress);
    if (this.#interactive) {
      this.#stream.write(`\r\u001b[2K${this.#current}`);
    } else if (force || progress.elapsedMs - this.#lastPlainAt >= this.#plainEveryMs) {
      this.#lastPlainAt = progress.elapsedMs;
      this.#stream.write(`${this.#current}\n`);
    }
  }

  note(line: string): void {
    if (this.#interactive) this.#stream.write(`\r\u001b[2K${line}\n${this.#current}`);
    else this.#stream.write(`${line}\n`);
  }

  /** Ends the in-place line. */
  finish(): void {
    if (this.#interactive && this.#current) this.#stream.write('\n');
    this.#current = '';
  }
}
