/**
 * The final commit's interleavings, with the real OffsetCommitter and OffsetTracker and a Kafka commit whose
 * answers the test controls: a commit still in flight at stop() (its older watermark must not be the last
 * word), a stop during a rebalance, a generation lost to the rebalance (committed after the join for the
 * partitions still held), and a broker that never answers (bounded).
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/logger.ts';
import { ConsumerEventEmitter } from '../../../consumers/events.ts';
import { OffsetCommitter } from '../../../consumers/offsets/offset-committer.ts';
import { OffsetTracker, type TopicPartitionOffset } from '../../../consumers/offsets/offset-tracker.ts';

function setUp() {
  const tracker = new OffsetTracker();
  const sent: string[] = [];
  const answers: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let rebalancing = false;
  const committed: string[] = [];
  const events = new ConsumerEventEmitter();
  events.on('consumer.offsets.committed', ({ offsets }) => committed.push(offsets.map(({ partition, offset }) => `${partition}:${offset}`).join(',')));
  const committer = new OffsetCommitter({
    tracker,
    commitOffsets: (offsets: TopicPartitionOffset[]) => {
      sent.push(offsets.map(({ partition, offset }) => `${partition}:${offset}`).join(','));
      return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
    },
    holds: () => true,
    rebalancing: () => rebalancing,
    events,
    logger: createLogger(),
  });
  const complete = (partition: number, from: number, to: number) => {
    for (let offset = from; offset < to; offset++) {
      tracker.track('t', partition, String(offset));
      tracker.complete('t', partition, String(offset));
    }
  };
  /** Answers the next commit sent, once it has been sent. */
  const answer = async (outcome: 'ok' | { type: string }) => {
    while (answers.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const next = answers.shift()!;
    if (outcome === 'ok') next.resolve();
    else next.reject(Object.assign(new Error('refused'), { cause: outcome }));
  };
  return { committer, tracker, sent, committed, complete, answer, setRebalancing: (value: boolean) => (rebalancing = value) };
}

describe('OffsetCommitter', () => {
  it('the final commit waits out a commit in flight, then commits the watermark as it is now', async () => {
    const { committer, sent, committed, complete, answer } = setUp();
    complete(0, 0, 10);
    void committer.commit();
    complete(0, 10, 20);
    const final = committer.commitFinal(5_000);
    await answer('ok');
    await answer('ok');
    await final;
    expect(sent).toEqual(['0:10', '0:20']);
    expect(committed).toEqual(['0:10', '0:20']);
  });

  it('commits during a rebalance when stopping (the periodic commit does not)', async () => {
    const { committer, sent, complete, answer, setRebalancing } = setUp();
    complete(0, 0, 5);
    setRebalancing(true);
    await committer.commit();
    expect(sent).toEqual([]);
    const final = committer.commitFinal(5_000);
    await answer('ok');
    await final;
    expect(sent).toEqual(['0:5']);
  });

  it('when the rebalance took the generation, commits after the join for the partitions still held', async () => {
    const { committer, tracker, sent, committed, complete, answer, setRebalancing } = setUp();
    complete(0, 0, 5);
    complete(1, 0, 7);
    setRebalancing(true);
    const final = committer.commitFinal(5_000);
    await answer({ type: 'ILLEGAL_GENERATION' });
    // The join: partition 0 stays, partition 1 went to another member; the tracker starts over (as at every join).
    committer.carryOver((_topic, partition) => partition === 0);
    tracker.drop();
    setRebalancing(false);
    committer.joined();
    await answer('ok');
    await final;
    expect(sent).toEqual(['0:5,1:7', '0:5']);
    expect(committed).toEqual(['0:5']);
  });

  it('waits for the join when the generation is lost and the member has not joined again yet', async () => {
    const { committer, tracker, sent, committed, complete, answer, setRebalancing } = setUp();
    complete(0, 0, 4);
    setRebalancing(true);
    const final = committer.commitFinal(5_000);
    await answer({ type: 'ILLEGAL_GENERATION' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toEqual(['0:4']);
    committer.carryOver(() => true);
    tracker.drop();
    setRebalancing(false);
    committer.joined();
    await answer('ok');
    await final;
    expect(committed).toEqual(['0:4']);
  });

  it('gives up at the budget when the broker never answers', async () => {
    const { committer, sent, complete } = setUp();
    complete(0, 0, 3);
    const startedAt = Date.now();
    await committer.commitFinal(300);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(sent).toEqual(['0:3']);
  });
});
