/** A fetched message that stands for a record batch that could not be decoded (see `core/compression/undecodable-batch.ts`). */
import { undecodableBatchOf } from '../../core/compression/undecodable-batch.ts';
import type { KafkaMessage } from '../../core/kafka-client.ts';
import type { UndecodableRecord } from './undecodable-batch-intake.ts';

/** The marker `message` is, with where it was fetched; undefined for every real record. */
export function undecodableRecordOf(message: KafkaMessage, topic: string, sourceTopic: string, partition: number, partitionId: string): UndecodableRecord | undefined {
  const batch = undecodableBatchOf(message);
  return batch && { topic, sourceTopic, partition, partitionId, offset: message.offset, batch };
}
