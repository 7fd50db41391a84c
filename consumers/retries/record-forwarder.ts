/**
 * Sends a record to a retry tier or the DLT: same key, value and partition number, acks=all through an
 * idempotent producer. Resolves only once the broker acknowledged; the caller retries a failed forward and
 * never commits past it.
 */
import type { Producer } from '../../core/kafka-client.ts';
import type { ConsumedRecord } from '../consumed-record.ts';
import { deadLetterHeaders, type ForwardFailure, type RecordOrigin } from '../dead-letter/dead-letter-headers.ts';

export class RecordForwarder {
  private readonly producer: Producer;
  private readonly groupId: string;

  constructor(producer: Producer, groupId: string) {
    this.producer = producer;
    this.groupId = groupId;
  }

  async forward(topic: string, record: ConsumedRecord, failure: ForwardFailure, origin: RecordOrigin): Promise<void> {
    await this.producer.send({
      topic,
      acks: -1,
      messages: [
        {
          partition: record.partition,
          key: record.key,
          value: record.value,
          headers: deadLetterHeaders(record, this.groupId, failure, origin),
        },
      ],
    });
  }
}
