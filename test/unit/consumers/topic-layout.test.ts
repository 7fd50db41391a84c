import { describe, expect, it } from 'vitest';
import type { Admin } from '../../../core/kafka-client.ts';
import { checkTopicLayout } from '../../../consumers/retries/topic-layout.ts';

const adminWith = (topics: string[]) => ({ listTopics: async () => topics }) as unknown as Admin;

describe('checkTopicLayout', () => {
  it('reports a missing source apart from its missing DLT, so that only the DLT is ever waved through', async () => {
    const problems = await checkTopicLayout(adminWith([]), ['orders'], 'billing', 0);
    expect(problems).toEqual([
      'missing orders: create them with `orderly topics create orders --group billing --tiers 0`',
      'missing orders.billing.dlt: create them with `orderly topics create orders --group billing --tiers 0`',
    ]);
    // What OrderedConsumer tolerates at start: a problem about the DLT alone.
    expect(problems.filter((problem) => !/^missing [^:]*\.dlt:/.test(problem))).toHaveLength(1);
  });
});
