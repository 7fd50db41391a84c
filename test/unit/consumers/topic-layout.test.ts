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

describe('checkTopicLayout: record size limits', () => {
  it('reports a tier or DLT that takes smaller records than its source', async () => {
    const topics = ['orders', 'orders.billing.retry.1', 'orders.billing.dlt'];
    const sizes: Record<string, string> = { orders: '2000000', 'orders.billing.retry.1': '2016384', 'orders.billing.dlt': '1048588' };
    const admin = {
      listTopics: async () => topics,
      fetchTopicMetadata: async () => ({ topics: topics.map((name) => ({ name, partitions: [{}, {}] })) }),
      describeConfigs: async ({ resources }: { resources: { name: string }[] }) => ({
        resources: resources.map(({ name }) => ({ resourceName: name, configEntries: [{ configName: 'max.message.bytes', configValue: sizes[name] }] })),
      }),
    } as unknown as Admin;
    const problems = await checkTopicLayout(admin, ['orders'], 'billing', 1);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^orders\.billing\.dlt has max\.message\.bytes 1048588 but orders has 2000000/);
  });
});
