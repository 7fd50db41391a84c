import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../core/kafka-client.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../support/test-stack.ts';

describe('producing and consuming in a consumer group on the real broker', () => {
  it('splits the partitions between two members, delivers every record once, in order per key, and commits', async () => {
    const topic = await createTestTopic({ partitions: 4 });
    const groupId = testGroupId();
    const keys = Array.from({ length: 20 }, (_, index) => `account-${index}`);
    const total = 400;

    const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: total }, (_, sequence) => ({
        key: keys[sequence % keys.length],
        value: JSON.stringify({ sequence }),
      })),
    });
    await producer.disconnect();

    const seen = new Map<string, number[]>();
    const partitionsByMember = new Map<string, Set<number>>();
    let received = 0;
    let resolveAll!: () => void;
    const allReceived = new Promise<void>((resolve) => (resolveAll = resolve));

    const consumers: Consumer[] = [];
    for (const member of ['member-a', 'member-b']) {
      const consumer = testKafka(member).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
      consumers.push(consumer);
      partitionsByMember.set(member, new Set());
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
    }
    // Both members join before either runs, so the group rebalances once and splits the partitions.
    await Promise.all(
      consumers.map((consumer, index) =>
        consumer.run({
          eachMessage: async ({ partition, message }) => {
            partitionsByMember.get(index === 0 ? 'member-a' : 'member-b')!.add(partition);
            const key = message.key!.toString();
            const { sequence } = JSON.parse(message.value!.toString()) as { sequence: number };
            seen.set(key, [...(seen.get(key) ?? []), sequence]);
            if (++received === total) resolveAll();
          },
        }),
      ),
    );
    try {
      await allReceived;
      expect(received).toBe(total);
      for (const key of keys) {
        const sequences = seen.get(key)!;
        expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
        expect(new Set(sequences).size).toBe(total / keys.length);
      }
      // Once the group has settled, every partition belongs to exactly one member.
      const describe = async () => {
        const admin = await testAdmin();
        const { groups } = await admin.describeGroups([groupId]);
        return groups[0]!.members.length;
      };
      await expect.poll(describe, { timeout: 30_000 }).toBe(2);
    } finally {
      await Promise.all(consumers.map((consumer) => consumer.disconnect()));
    }

    const admin = await testAdmin();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    for (const { partition, offset } of committed[0]!.partitions) {
      expect(offset).toBe(ends.find((end) => end.partition === partition)!.high);
    }
    const memberPartitions = [...partitionsByMember.values()].map((set) => [...set]).flat();
    expect(new Set(memberPartitions)).toEqual(new Set([0, 1, 2, 3]));
  });
});
