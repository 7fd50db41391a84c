import { describe, expect, it } from 'vitest';
import { StuckPartitionTracker } from '../../../consumers/offsets/stuck-partition-tracker.ts';
import { nextTierOf, topicTierOf } from '../../../observability/topic-tier.ts';

describe('StuckPartitionTracker', () => {
  it('is stuck when lag stays and the committed offset does not move for the threshold', () => {
    const tracker = new StuckPartitionTracker();
    const at = (committedOffset: string, lag: number, nowMs: number) => tracker.observe([{ id: 'p0', committedOffset, lag, stuckAfterMs: 1_000 }], nowMs).get('p0');
    expect(at('5', 3, 0)).toEqual({ stalledForMs: 0, stuck: false });
    expect(at('5', 3, 999)).toEqual({ stalledForMs: 999, stuck: false });
    expect(at('5', 9, 1_000)).toEqual({ stalledForMs: 1_000, stuck: true });
    expect(at('6', 8, 1_500)).toEqual({ stalledForMs: 0, stuck: false });
    expect(at('6', 0, 5_000)).toBeUndefined();
    expect(at('6', 2, 5_100)).toEqual({ stalledForMs: 0, stuck: false });
  });
});

describe('topicTierOf', () => {
  it('reads source, tier and DLT topics of a group', () => {
    expect(topicTierOf('orders', 'billing')).toEqual({ topic: 'orders', tier: 'source' });
    expect(topicTierOf('orders.billing.retry.3', 'billing')).toEqual({ topic: 'orders', tier: '3' });
    expect(topicTierOf('orders.billing.dlt', 'billing')).toEqual({ topic: 'orders', tier: 'dlt' });
    expect(topicTierOf('orders.other.retry.1', 'billing')).toEqual({ topic: 'orders.other.retry.1', tier: 'source' });
    expect(topicTierOf('orders.billing.retry.x', 'billing').tier).toBe('source');
    expect([nextTierOf('source'), nextTierOf('2')]).toEqual(['1', '3']);
  });
});
