/**
 * What the consumer asks of whatever commits its offsets: the {@link OffsetCommitter} (the group's offset
 * commit), or, with `transactional: true`, the shards' Kafka transactions (consumers/transactions/).
 */
export interface Committer {
  /** The periodic commit, and the one at a rebalance (`duringRebalance`). */
  commit(options?: { duringRebalance?: boolean }): Promise<unknown>;
  /** The last commit when the member stops, within `budgetMs`. */
  commitFinal(budgetMs: number): Promise<void>;
  /** The member joined its group. */
  joined(): void;
  /** A join while the member stops: what it completed for partitions it holds again stays its to commit. */
  carryOver(stillHeld: (topic: string, partition: number) => boolean): void;
}
