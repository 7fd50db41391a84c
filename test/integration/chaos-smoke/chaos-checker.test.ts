/** The chaos suite's checkers catch what they count: a lost event, a duplicate, a disorder, a commit past an incomplete record, a regression. */
import { describe, expect, it } from 'vitest';
import type { Admin } from '../../../core/kafka-client.ts';
import { CommitAuditor } from '../../chaos/support/commit-auditor.ts';
import { countSink, type AppliedRow } from '../../chaos/support/effects-sink.ts';

const row = (key: string, sequence: number, offset: number, at = 1_000): AppliedRow => ({ eventId: `${key}#${sequence}`, key, sequence, partition: 0, offset, at });

function auditorWith(committed: number[]): CommitAuditor {
  let call = 0;
  const admin = { fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: String(committed[Math.min(call++, committed.length - 1)]) }] }] };
  return new CommitAuditor(admin as unknown as Admin, 'g', 't');
}

describe('chaos checkers', () => {
  it('countSink counts lost events, duplicate effects and order violations, a dead-lettered predecessor excepted', () => {
    const expected = new Map([['a', 3], ['b', 2]]);
    expect(countSink(expected, [row('a', 1, 0), row('a', 2, 1), row('a', 3, 2), row('b', 1, 3), row('b', 2, 4)], [])).toEqual({ lost: 0, duplicateEffects: 0, orderViolations: 0 });
    expect(countSink(expected, [row('a', 1, 0), row('a', 3, 2), row('b', 1, 3), row('b', 1, 3)], [])).toEqual({ lost: 2, duplicateEffects: 1, orderViolations: 2 });
    const dead = [{ eventId: 'a#2', reason: 'non-retryable', partition: 0, offset: 1, at: 1_000 }];
    expect(countSink(expected, [row('a', 1, 0), row('a', 3, 2), row('b', 1, 3), row('b', 2, 4)], dead)).toEqual({ lost: 0, duplicateEffects: 0, orderViolations: 0 });
  });

  it('CommitAuditor finds a commit past an offset not yet completed, and a committed offset going back', async () => {
    const past = auditorWith([3]);
    await past.stop();
    expect(past.check([row('a', 1, 0), row('a', 2, 1)], []).commitsPastIncomplete).toBe(1);
    const late = auditorWith([2]);
    await late.stop();
    expect(late.check([row('a', 1, 0), row('a', 2, 1, Date.now() + 60_000)], []).commitsPastIncomplete).toBe(1);
    const fine = auditorWith([2]);
    await fine.stop();
    expect(fine.check([row('a', 1, 0), row('a', 2, 1)], [])).toMatchObject({ commitsPastIncomplete: 0, regressions: 0 });
    const back = auditorWith([2, 1]);
    await back.stop();
    await back.stop();
    expect(back.check([row('a', 1, 0), row('a', 2, 1)], []).regressions).toBe(1);
  });
});
