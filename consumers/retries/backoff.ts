/**
 * Exponential backoff with jitter, bounded: attempt n (1-based) waits a random time in
 * [delay/2, delay] where delay = min(maxMs, baseMs * factor^(n-1)). Half the delay is kept so a retry storm is
 * spread out but never collapses to zero wait.
 */
export interface BackoffOptions {
  /** @defaultValue 100 ms */
  baseMs: number;
  /** @defaultValue 5000 ms */
  maxMs: number;
  /** Growth per attempt. @defaultValue 2 */
  factor?: number;
}

export function backoffDelayMs(attempt: number, { baseMs, maxMs, factor = 2 }: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const delay = Math.min(maxMs, baseMs * factor ** exponent);
  return Math.round(delay / 2 + random() * (delay / 2));
}
