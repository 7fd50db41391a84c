/**
 * Logs the requests the observability server refused, without letting a flood of them flood the log: the
 * first refusal of each status is logged at once, later ones are counted and summed into one line at most
 * every `intervalMs`. Only the status and an error code are logged, never the request's bytes.
 */
import type { Logger } from '../core/logger.ts';

export class RequestErrorLog {
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private lastLoggedAt = -Infinity;
  private suppressed = 0;

  constructor(logger: Logger, { intervalMs = 10_000 } = {}) {
    this.logger = logger;
    this.intervalMs = intervalMs;
  }

  /** One refused request, with the status it was answered with and why (a parser code, or ours). */
  report({ status, code }: { status: number; code: string }, now = Date.now()): void {
    if (now - this.lastLoggedAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger.warn({ status, errorType: code, suppressed: this.suppressed }, 'observability request refused');
    this.lastLoggedAt = now;
    this.suppressed = 0;
  }
}
