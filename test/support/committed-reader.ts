/**
 * A raw kafkajs consumer of its own new group that reads a topic from the beginning with `read_committed`
 * (kafkajs's `readUncommitted: false`) and does no deduplication of events. Each record is kept once by its
 * partition and offset: a rebalance of the reader's own group can hand it a batch again, and that is the
 * reader's redelivery, not a second record in the topic. Disconnected when the test finishes.
 */
import { onTestFinished } from 'vitest';
import type { KafkaMessage } from '../../core/kafka-client.ts';
import { testKafka, uniqueName } from './test-stack.ts';

export async function readCommitted(topic: string): Promise<{ messages: KafkaMessage[]; stop: () => Promise<void> }> {
  const consumer = testKafka().consumer({ groupId: uniqueName('downstream'), readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: KafkaMessage[] = [];
  const read = new Set<string>();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const at = `${partition}:${message.offset}`;
      if (read.has(at)) return;
      read.add(at);
      messages.push(message);
    },
  });
  const stop = () => consumer.disconnect();
  onTestFinished(stop);
  return { messages, stop };
}
