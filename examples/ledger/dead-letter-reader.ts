/**
 * Reads a dead-letter topic from its start to its end as it is now: the event id and reason of each record
 * (headers only; values are not decoded). A throwaway consumer group does the reading and is deleted after.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderlyError } from '../../core/errors.ts';
import type { Admin, Kafka } from '../../core/kafka-client.ts';
import { readHeaders } from '../../consumers/consumed-record.ts';
import { forwardHeaders } from '../../consumers/dead-letter/dead-letter-headers.ts';
import { envelopeHeaderNames } from '../../producers/envelope-headers.ts';

export interface DeadLetterRecord {
  /** `orderly-event-id`; undefined when the record has none. */
  eventId: string | undefined;
  /** `orderly-dlt-reason`; undefined when the record has none. */
  reason: string | undefined;
  partition: number;
  offset: string;
}

/** Sums the end offsets of topics (records ever written, as the topics have no deletes). */
export async function recordsWritten(kafka: Kafka, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const counts = await Promise.all(topics.map(async (topic) => (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0)));
        return counts.reduce((sum, count) => sum + count, 0);
      } catch (error) {
        // A topic created a moment ago may not have its leaders known yet (NOT_LEADER_FOR_PARTITION).
        if (attempt >= 10) throw error;
        await sleep(500);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** @param timeoutMs how long the whole read may take. */
export async function readDeadLetters(kafka: Kafka, topic: string, timeoutMs = 120_000): Promise<DeadLetterRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `ledger-demo-verify-${randomUUID()}`;
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    const ends = new Map<number, bigint>();
    for (const { partition, high, low } of await offsetsOf(admin, topic)) if (BigInt(high) > BigInt(low)) ends.set(partition, BigInt(high));
    if (ends.size === 0) return [];
    const records: DeadLetterRecord[] = [];
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new OrderlyError('TIMEOUT', `reading ${topic} took longer than ${timeoutMs} ms`)), timeoutMs);
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = ends.get(batch.partition);
              for (const message of batch.messages) {
                if (end === undefined || BigInt(message.offset) >= end) continue;
                const headers = readHeaders(message.headers ?? {});
                records.push({ eventId: headers[envelopeHeaderNames.eventId], reason: headers[forwardHeaders.reason], partition: batch.partition, offset: message.offset });
                if (BigInt(message.offset) + 1n >= end) ends.delete(batch.partition);
              }
              if (ends.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return records;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

async function offsetsOf(admin: Admin, topic: string): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(500);
    }
  }
}
