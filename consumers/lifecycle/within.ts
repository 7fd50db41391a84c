/**
 * Bounded waits for shutdown: a promise raced against a timer, so a call into a broker that does not answer
 * (frozen, partitioned away) cannot hold the caller past its deadline. The promise is not cancelled: it may
 * still settle later, and its rejection is swallowed so it never surfaces as an unhandled rejection.
 */
export type Within<T> = { settled: true; value: T } | { settled: true; error: unknown } | { settled: false };

/** Waits for `promise` at most `timeoutMs` (at least 0); never rejects. */
export function within<T>(promise: Promise<T>, timeoutMs: number): Promise<Within<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Within<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), Math.max(0, timeoutMs));
  });
  const outcome = promise.then(
    (value): Within<T> => ({ settled: true, value }),
    (error: unknown): Within<T> => ({ settled: true, error }),
  );
  return Promise.race([outcome, timeout]).finally(() => clearTimeout(timer));
}
