/**
 * Progress on stderr: a bar redrawn in place when stderr is a terminal, else a plain line every 10 % (and at
 * the end), so logs and CI output stay readable.
 */
export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;
  private lastTenth = -1;
  private readonly startedAt = Date.now();

  constructor({ total, label, stream = process.stderr }: { total: number; label: string; stream?: NodeJS.WriteStream }) {
    this.total = total;
    this.label = label;
    this.stream = stream;
    this.interactive = stream.isTTY === true;
  }

  update(done: number): void {
    const fraction = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const percent = Math.floor(fraction * 100);
    if (this.interactive) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const rate = done / Math.max(0.001, (Date.now() - this.startedAt) / 1000);
      this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${percent}% ${rate.toFixed(1)}/s`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.stream.write(`${this.label}: ${done}/${this.total} (${percent}%)\n`);
    }
  }

  finish(): void {
    if (this.interactive) this.stream.write('\n');
  }
}
