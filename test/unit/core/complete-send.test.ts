import { describe, expect, it } from 'vitest';
import type { Message, ProducerBatch, RecordMetadata } from 'kafkajs';
import { sendBatchCompletely } from '../../../core/complete-send.ts';
import { OrderlyError } from '../../../core/errors.ts';

/** A producer that, like kafkajs across a leader change, answers only for the partitions it is told to. */
function fakeProducer(answersFor: (attempt: number) => ReadonlySet<number>) {
  const sent: { attempt: number; partitions: number[]; messages: number }[] = [];
  return {
    sent,
    sendBatch: async (batch: ProducerBatch): Promise<RecordMetadata[]> => {
      const attempt = sent.length;
      const messages = batch.topicMessages!.flatMap(({ messages: list }) => list);
      const partitions = [...new Set(messages.map((message) => message.partition!))];
      sent.push({ attempt, partitions, messages: messages.length });
      return partitions.filter((partition) => answersFor(attempt).has(partition)).map((partition) => ({ topicName: 't', partition, errorCode: 0, baseOffset: String(attempt * 100) }));
    },
  };
}

const batchOf = (partitions: number[]): ProducerBatch => ({ topicMessages: [{ topic: 't', messages: partitions.map((partition): Message => ({ key: `k${partition}`, value: 'v', partition })) }] });

describe('sendBatchCompletely', () => {
  it('sends again the messages of a partition that got no result, and only those', async () => {
    const producer = fakeProducer((attempt) => new Set(attempt === 0 ? [1, 2] : [0]));
    const results = await sendBatchCompletely(producer, batchOf([0, 1, 2, 0]), { partitionOf: new WeakMap() });
    expect(producer.sent).toEqual([
      { attempt: 0, partitions: [0, 1, 2], messages: 4 },
      { attempt: 1, partitions: [0], messages: 2 },
    ]);
    expect(results.map(({ partition }) => partition).sort()).toEqual([0, 1, 2]);
  });

  it('fails loudly, retriable, when a partition never gets a result', async () => {
    const producer = fakeProducer(() => new Set([1]));
    const failure = await sendBatchCompletely(producer, batchOf([0, 1]), { partitionOf: new WeakMap(), resends: 2 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OrderlyError);
    expect((failure as OrderlyError).retriable).toBe(true);
    expect((failure as Error).message).toContain('1 message(s) to t[0] after 3 sends');
    expect(producer.sent).toHaveLength(3);
  });
});
