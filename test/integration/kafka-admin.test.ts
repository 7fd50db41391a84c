import { describe, expect, it } from 'vitest';
import { createTestTopic, testAdmin, testKafka, uniqueName } from '../support/test-stack.ts';

describe('the broker through the admin API', () => {
  it('creates a topic with the partitions asked for, and deletes it', async () => {
    const admin = await testAdmin();
    const topic = uniqueName('admin');
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(6);
    expect(await admin.listTopics()).toContain(topic);

    await admin.deleteTopics({ topics: [topic] });
    await expect.poll(async () => (await admin.listTopics()).includes(topic), { timeout: 30_000 }).toBe(false);
  });

  it('never auto-creates a topic that a producer names', async () => {
    const admin = await testAdmin();
    const topic = uniqueName('never-created');
    const producer = testKafka().producer({ retry: { retries: 1, initialRetryTime: 100 } });
    await producer.connect();
    try {
      await expect(producer.send({ topic, messages: [{ key: 'k', value: 'v' }] })).rejects.toThrow(
        /does not host this topic-partition|UNKNOWN_TOPIC/i,
      );
    } finally {
      await producer.disconnect();
    }
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('reports partition offsets of a topic it created', async () => {
    const topic = await createTestTopic({ partitions: 2 });
    const producer = testKafka().producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'a', value: '1', partition: 1 }, { key: 'b', value: '2', partition: 1 }] });
    await producer.disconnect();
    const admin = await testAdmin();
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.find((partition) => partition.partition === 1)?.high).toBe('2');
    expect(offsets.find((partition) => partition.partition === 0)?.high).toBe('0');
  });
});
