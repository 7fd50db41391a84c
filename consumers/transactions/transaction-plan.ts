/**
 * What the next transaction of a shard (a source partition with its retry tiers and delay levels) may write:
 * which kept emits, and which offsets. Pure: no I/O.
 *
 * A record's emits may be committed only together with an offset past the record, or a crash after the commit
 * would hand the record out again and its emits would be committed twice. A partition's committable offset is
 * its watermark (the first record not completed), so emits of records completed beyond a gap wait. Per lane
 * (a key), emits are written in the order their records completed: an entry waits while an earlier entry of
 * its lane waits (a key's next record can come from a retry tier, another partition of the shard, whose
 * watermark may move first). And a partition's offset may not pass an entry that waits. Those rules feed each
 * other (an entry held back by its lane lowers its partition's cut, which may hold back more entries), so the
 * plan is computed to a fixpoint: the cuts only go down, so it ends within as many rounds as there are entries.
 */

/** Emits kept for one completed record. */
export interface PlannedEntry {
  partitionId: string;
  offset: bigint;
  /** The record's lane (its key's, see `shardKeyOf`). */
  lane: string;
}

export interface TransactionPlan {
  /** Indexes of the entries to write now, in the order given (their records' completion order). */
  send: number[];
  /** Per partition of the shard, the offset to commit now (only those that move past the last commit). */
  offsets: Map<string, bigint>;
}

/**
 * `watermarks`: per partition of the shard, the offset of its first record not completed (undefined: nothing
 * tracked). `committed`: the offset last committed per partition.
 */
export function planTransaction(entries: readonly PlannedEntry[], watermarks: ReadonlyMap<string, bigint | undefined>, committed: ReadonlyMap<string, bigint>): TransactionPlan {
  const cuts = new Map<string, bigint>();
  for (const [partitionId, watermark] of watermarks) if (watermark !== undefined) cuts.set(partitionId, watermark);
  let send: number[] = [];
  for (;;) {
    send = [];
    const waitingLanes = new Set<string>();
    const firstWaiting = new Map<string, bigint>();
    entries.forEach((entry, index) => {
      const cut = cuts.get(entry.partitionId);
      if (cut === undefined || entry.offset >= cut || waitingLanes.has(entry.lane)) {
        waitingLanes.add(entry.lane);
        const first = firstWaiting.get(entry.partitionId);
        if (first === undefined || entry.offset < first) firstWaiting.set(entry.partitionId, entry.offset);
      } else {
        send.push(index);
      }
    });
    let lowered = false;
    for (const [partitionId, offset] of firstWaiting) {
      const cut = cuts.get(partitionId);
      if (cut !== undefined && offset < cut) {
        cuts.set(partitionId, offset);
        lowered = true;
      }
    }
    if (!lowered) break;
  }
  const offsets = new Map<string, bigint>();
  for (const [partitionId, cut] of cuts) {
    const last = committed.get(partitionId);
    if (last === undefined || cut > last) offsets.set(partitionId, cut);
  }
  return { send, offsets };
}
