/**
 * Reads a dead-letter topic from its first record to the end it had when the read began, without leaving a
 * trace: the consumer joins a throwaway group (random id), never commits, and the group is deleted after.
 * kafkajs has no assign-without-group, so this is the closest to a group-less reader it allows.
 */
import { randomUUID } from 'node:crypto';
import { OrderlyError } from '../core/errors.ts';
import type { Admin, Kafka } from '../core/kafka-client.ts';
import { toDltRecord, type DltRecord } from './dlt-record.ts';
import { FirstDltRecords } from './first-dlt-records.ts';

export interface PartitionWatermarks {
  partition: number;
  /** First offset still in the log. */
  low: string;
  /** Offset the next record will get. */
  high: string;
}

export interface DltReaderOptions {
  kafka: Kafka;
  /** A connected admin client; the caller disconnects it. */
  admin: Admin;
  /** A read that has not reached the end by then fails. @defaultValue 120000 ms */
  readTimeoutMs?: number;
}

/** What the callback returns: `false` stops the read early (a `--limit` was reached). */
export type DltRecordVisitor = (record: DltRecord) => boolean | void;

export class DltReader {
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly readTimeoutMs: number;

  constructor({ kafka, admin, readTimeoutMs = 120_000 }: DltReaderOptions) {
    this.kafka = kafka;
    this.admin = admin;
    this.readTimeoutMs = readTimeoutMs;
  }

  /** The topic's watermarks per partition, sorted by partition. Fails naming the topic when it is missing. */
  async watermarks(topic: string): Promise<PartitionWatermarks[]> {
    const topics = await this.admin.listTopics();
    if (!topics.includes(topic)) {
      throw new OrderlyError('KAFKA', `topic "${topic}" does not exist: check --topic and --group, or create the layout with \`orderly topics create\``, { context: { topic } });
    }
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.map(({ partition, low, high }) => ({ partition, low, high })).sort((a, b) => a.partition - b.partition);
  }

  /** Visits every record in offset order per partition (partitions interleave). Returns the watermarks read up to. */
  async read(topic: string, visit: DltRecordVisitor): Promise<PartitionWatermarks[]> {
    const watermarks = await this.watermarks(topic);
    const remaining = new Map(watermarks.filter(({ low, high }) => BigInt(high) > BigInt(low)).map(({ partition, high }) => [partition, BigInt(high)]));
    if (remaining.size === 0) return watermarks;

    const groupId = `orderly-dlt-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        let stopped = false;
        timer = setTimeout(
          () => reject(new OrderlyError('TIMEOUT', `reading ${topic} did not reach its end in ${this.readTimeoutMs} ms (partitions left: ${[...remaining.keys()].join(', ')})`, { context: { topic } })),
          this.readTimeoutMs,
        );
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = remaining.get(batch.partition);
              if (end === undefined || stopped) return;
              for (const message of batch.messages) {
                if (BigInt(message.offset) >= end) break;
                if (visit(toDltRecord(topic, batch.partition, message)) === false) {
                  stopped = true;
                  break;
                }
              }
              if (stopped || BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
              if (stopped || remaining.size === 0) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return watermarks;
  }

  /**
   * Every record `keep` accepts, sorted by partition and offset, then the first `limit`. The whole topic is
   * read before the limit applies, so the same filters select the same records in a dry run and the real one;
   * at most twice `limit` records are held meanwhile ({@link FirstDltRecords}).
   */
  async readAll(topic: string, keep: (record: DltRecord) => boolean = () => true, limit = Infinity): Promise<{ records: DltRecord[]; watermarks: PartitionWatermarks[] }> {
    const first = new FirstDltRecords(limit);
    const watermarks = await this.read(topic, (record) => {
      if (keep(record)) first.add(record);
    });
    return { records: first.result(), watermarks };
  }
}
