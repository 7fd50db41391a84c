/**
 * A stand-in for `node:timers/promises` in the model tests: `setTimeout` waits on the global (faked) clock, so
 * the backoffs of the record path pass in simulated time. Test files load it with
 * `vi.mock('node:timers/promises', () => import('../../model/fake-sleep.ts'))`.
 */
export function setTimeout<V = void>(ms?: number, value?: V, options?: { signal?: AbortSignal }): Promise<V> {
  return new Promise<V>((resolve, reject) => {
    const signal = options?.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = globalThis.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value as V);
    }, ms ?? 0);
    const onAbort = () => {
      globalThis.clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
