/**
 * Keeps per-key order across concurrent publishes. kafkajs may swap two produce requests of one partition that
 * are in flight together: when the first fails and is retried, the second (already waiting for the broker lock)
 * is written first. So a send waits until every earlier send that carries one of its keys was acknowledged,
 * and when one of those failed it is not sent at all (an earlier event of its key was not written: writing the
 * later one would put it ahead). Sends of different keys never wait for each other.
 */
export interface GateTicket {
  /** Resolves true when the earlier sends of these keys were all acknowledged; false when one was not. */
  readonly earlier: Promise<boolean>;
  /** Says how this send ended; must be called exactly once. */
  done(acknowledged: boolean): void;
}

const acknowledged = Promise.resolve(true);

export class KeyOrderGate {
  /** Per key, the last send registered that has not settled yet. */
  readonly #tails = new Map<string, Promise<boolean>>();

  /** Number of keys with a send not settled (bounded by the events in flight). */
  get keys(): number {
    return this.#tails.size;
  }

  /** Registers a send of `keys`, in the order sends were accepted. */
  enter(keys: Iterable<string>): GateTicket {
    const unique = new Set(keys);
    const before: Promise<boolean>[] = [];
    for (const key of unique) {
      const tail = this.#tails.get(key);
      if (tail) before.push(tail);
    }
    let settle!: (value: boolean) => void;
    const outcome = new Promise<boolean>((resolve) => (settle = resolve));
    for (const key of unique) this.#tails.set(key, outcome);
    const earlier = before.length === 0 ? acknowledged : Promise.all(before).then((results) => results.every(Boolean));
    let settled = false;
    return {
      earlier,
      done: (ok) => {
        if (settled) return;
        settled = true;
        for (const key of unique) if (this.#tails.get(key) === outcome) this.#tails.delete(key);
        settle(ok);
      },
    };
  }
}
