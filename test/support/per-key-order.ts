/**
 * The steps read out of order for their key, in reading order: with `contiguous`, every sequence must be the one
 * after its key's previous (1 first); otherwise only greater than it (gaps allowed, e.g. dead-lettered events).
 */
export function outOfKeyOrder<S extends { key: string; sequence: number }>(steps: readonly S[], { contiguous }: { contiguous: boolean }): S[] {
  const lastOf = new Map<string, number>();
  return steps.filter(({ key, sequence }) => {
    const previous = lastOf.get(key) ?? 0;
    lastOf.set(key, sequence);
    return contiguous ? sequence !== previous + 1 : sequence <= previous;
  });
}
