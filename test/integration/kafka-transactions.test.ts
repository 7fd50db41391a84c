import { describe, expect, it } from 'vitest';
import { createTestTopic, testGroupId, testKafka, uniqueName } from '../support/test-stack.ts';

describe('Kafka transactions through kafkajs on the real broker', () => {
  it('shows a read_committed consumer the committed transaction and never the aborted one', async () => {
    const topic = await createTestTopic({ partitions: 1 });
    const producer = testKafka().producer({ transactionalId: uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: 'committed-1' }, { key: 'k', value: 'committed-2' }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ key: 'k', value: 'committed-3' }] });
    await last.commit();
    await producer.disconnect();

    const consumer = testKafka().consumer({ groupId: testGroupId(), readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value!.toString());
          if (values.includes('committed-3')) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(values).toEqual(['committed-1', 'committed-2', 'committed-3']);
  });
});
