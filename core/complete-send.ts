/**
 * A kafkajs `sendBatch` that never reports a partition as written when it was not sent.
 *
 * kafkajs 2.2.4 keeps one response per broker across the retries of a send. When the leader of a partition
 * moves during a send (its old leader died), the retry finds the partition's new leader among the brokers that
 * already answered for their own partitions, sends nothing to it, and resolves: the messages of that partition
 * were never written, yet the send succeeds, with no result for the partition. Found by the three-node cluster
 * test (a leader SIGKILLed while publishing), see docs/reliability.md.
 *
 * {@link sendBatchCompletely} checks that every partition a message went to has a result, and sends the
 * messages of the partitions without one again (same producer: the idempotent producer's sequence for such a
 * partition was never advanced), a bounded number of times, then fails loudly.
 */
import type { Message, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import kafkajs from 'kafkajs';
import { OrderlyError } from './errors.ts';

const { Partitioners } = kafkajs;

type CreatePartitioner = NonNullable<Parameters<kafkajs.Kafka['producer']>[0]>['createPartitioner'];

/** A murmur2 partitioner (kafkajs's DefaultPartitioner, Java's for a key) that remembers each message's partition. */
export function trackingPartitioner(): { createPartitioner: NonNullable<CreatePartitioner>; partitionOf: WeakMap<object, number> } {
  const partitionOf = new WeakMap<object, number>();
  return {
    partitionOf,
    createPartitioner: () => {
      const partitioner = Partitioners.DefaultPartitioner();
      return (args) => {
        const partition = partitioner(args);
        partitionOf.set(args.message, partition);
        return partition;
      };
    },
  };
}

export interface CompleteSendOptions {
  /** The partition each message of the batch went to (from {@link trackingPartitioner}, or a message's own `partition`). */
  partitionOf: WeakMap<object, number>;
  /** Sends again after the first, for partitions left without a result. @defaultValue 5 */
  resends?: number;
  /** Told of each resend (a log line, a metric). */
  onResend?: (missing: { topic: string; partition: number; messages: number }[]) => void;
}

const slotOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** `producer.sendBatch(batch)`, then again for the messages of every partition that got no result. */
export async function sendBatchCompletely(producer: Pick<Producer, 'sendBatch'>, batch: ProducerBatch, options: CompleteSendOptions): Promise<RecordMetadata[]> {
  const resends = options.resends ?? 5;
  const results: RecordMetadata[] = [];
  let pending = batch.topicMessages ?? [];
  for (let attempt = 0; ; attempt++) {
    results.push(...(await producer.sendBatch({ ...batch, topicMessages: pending })));
    const answered = new Set(results.map((result) => slotOf(result.topicName, result.partition)));
    const missing: { topic: string; partition: number; messages: Message[] }[] = [];
    for (const { topic, messages } of pending) {
      for (const message of messages) {
        const partition = message.partition ?? options.partitionOf.get(message);
        if (partition === undefined) throw new OrderlyError('KAFKA', `sendBatchCompletely: the partition of a message to ${topic} is unknown (use trackingPartitioner)`);
        if (answered.has(slotOf(topic, partition))) continue;
        let entry = missing.find((candidate) => candidate.topic === topic && candidate.partition === partition);
        if (!entry) missing.push((entry = { topic, partition, messages: [] }));
        entry.messages.push(message);
      }
    }
    if (missing.length === 0) return results;
    const summary = missing.map(({ topic, partition, messages }) => ({ topic, partition, messages: messages.length }));
    if (attempt >= resends) {
      throw new OrderlyError(
        'KAFKA',
        `the broker never acknowledged ${summary.map(({ topic, partition, messages }) => `${messages} message(s) to ${topic}[${partition}]`).join(', ')} after ${resends + 1} sends (a leader change): not written`,
        { retriable: true },
      );
    }
    options.onResend?.(summary);
    const byTopic = new Map<string, Message[]>();
    for (const { topic, messages } of missing) byTopic.set(topic, [...(byTopic.get(topic) ?? []), ...messages]);
    pending = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }
}
