/**
 * Sends a record to its dead-letter topic `<topic>.<group>.dlt`, on the same partition number, with the same
 * key and value, acks=all through an idempotent producer. Resolves only once the broker acknowledged; the
 * caller retries a failed forward and never commits past it.
 */
import type { Producer } from '../../core/kafka-client.ts';
import { deadLetterHeaders, type ForwardFailure, type ForwardedRecordSource } from './dead-letter-headers.ts';

export function deadLetterTopicOf(topic: string, groupId: string): string {
  return `${topic}.${groupId}.dlt`;
}

export interface DeadLetterRecord extends ForwardedRecordSource {
  key: Buffer | null;
  value: Buffer | null;
}

export class DeadLetterPublisher {
  private readonly producer: Producer;
  private readonly groupId: string;

  constructor(producer: Producer, groupId: string) {
    this.producer = producer;
    this.groupId = groupId;
  }

  async forward(record: DeadLetterRecord, failure: ForwardFailure): Promise<void> {
    await this.producer.send({
      topic: deadLetterTopicOf(record.topic, this.groupId),
      acks: -1,
      messages: [
        {
          partition: record.partition,
          key: record.key,
          value: record.value,
          headers: deadLetterHeaders(record, this.groupId, failure),
        },
      ],
    });
  }
}
