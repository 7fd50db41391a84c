/**
 * What a shard's transaction may write: emits of records below their partition's watermark, each lane's in the
 * order its records completed, and offsets that never pass an entry left waiting (else a crash after the commit
 * would hand the record out again and its emits be committed twice).
 */
import { describe, expect, it } from 'vitest';
import { planTransaction, type PlannedEntry } from '../../../../consumers/transactions/transaction-plan.ts';

const entry = (partitionId: string, offset: number, lane: string): PlannedEntry => ({ partitionId, offset: BigInt(offset), lane });
const marks = (entries: Record<string, number | undefined>) => new Map(Object.entries(entries).map(([id, offset]) => [id, offset === undefined ? undefined : BigInt(offset)]));
const offsetsOf = (plan: { offsets: Map<string, bigint> }) => Object.fromEntries([...plan.offsets].map(([id, offset]) => [id, Number(offset)]));

describe('planTransaction', () => {
  it('writes the emits of records below the watermark and commits the watermark; records past a gap wait', () => {
    // Offset 2 is not completed (the gap): 3 completed, its emits wait, and the offset stops at 2.
    const entries = [entry('src', 0, 'a'), entry('src', 1, 'b'), entry('src', 3, 'c')];
    const plan = planTransaction(entries, marks({ src: 2 }), new Map());
    expect(plan.send).toEqual([0, 1]);
    expect(offsetsOf(plan)).toEqual({ src: 2 });
  });

  it("holds a key's entry from a retry tier behind its earlier entry past the source's gap, and stops the tier's offset before it", () => {
    // Key a completed at source offset 5 (past the gap at 4), then its next record completed on the tier at 0;
    // the tier's watermark is past it, but writing it first would put a's emits out of order downstream.
    const entries = [entry('src', 5, 'a'), entry('tier', 0, 'a'), entry('tier', 1, 'b')];
    const plan = planTransaction(entries, marks({ src: 4, tier: 2 }), new Map());
    expect(plan.send).toEqual([]);
    expect(offsetsOf(plan)).toEqual({ src: 4, tier: 0 });
  });

  it('lowers the cuts to a fixpoint: a held entry lowers its partition, which holds entries of other lanes', () => {
    // a waits at src (past the gap) -> a's tier entry at 3 waits -> the tier's cut drops to 3 -> b's tier entry
    // at 5 waits -> b's later entry on delay (below its watermark) waits behind it -> delay's cut drops to 1.
    const entries = [entry('src', 9, 'a'), entry('tier', 3, 'a'), entry('tier', 5, 'b'), entry('delay', 1, 'b'), entry('tier', 2, 'c'), entry('delay', 0, 'd')];
    const plan = planTransaction(entries, marks({ src: 8, tier: 6, delay: 2 }), new Map());
    expect(plan.send).toEqual([4, 5]);
    expect(offsetsOf(plan)).toEqual({ src: 8, tier: 3, delay: 1 });
  });

  it('commits only offsets that move past the last commit, and nothing for a partition with nothing tracked', () => {
    const plan = planTransaction([], marks({ src: 7, tier: 3, delay: undefined }), new Map([['src', 7n], ['tier', 1n]]));
    expect(plan.send).toEqual([]);
    expect(offsetsOf(plan)).toEqual({ tier: 3 });
  });

  it('keeps the completion order of the entries it writes', () => {
    const entries = [entry('tier', 0, 'x'), entry('src', 2, 'y'), entry('src', 0, 'z'), entry('tier', 1, 'x')];
    const plan = planTransaction(entries, marks({ src: 3, tier: 2 }), new Map());
    expect(plan.send).toEqual([0, 1, 2, 3]);
    expect(offsetsOf(plan)).toEqual({ src: 3, tier: 2 });
  });
});
