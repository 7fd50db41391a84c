/**
 * Batches from a producer that is not kafkajs: Kafka's own Java client writes valid Avro events (Confluent wire
 * format, schema registered) and malformed ones with each codec Kafka has, interleaved with uncompressed batches
 * on the same partitions. Every valid event is applied once in per-key order, every malformed record is in the
 * DLT with a reason, and the committed offsets reach the end of every partition.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { AvroEncoder } from '../../../schemas/avro-encoder.ts';
import { avroType } from '../../../schemas/avro-type.ts';
import { eventually, readAll, startTestConsumer } from '../../support/consumer-harness.ts';
import { produceWithJava, type ForeignRecord } from '../../support/foreign-producer.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { deleteSubject, testRegistry } from '../schemas/registry-helpers.ts';

interface Deposit {
  accountId: string;
  sequence: number;
  amountMinor: number;
  currency: string;
}

const type = avroType(readFileSync('schemas/avro/FundsDeposited.avsc', 'utf8'));
const partitions = 2;
const keys = ['acct-a', 'acct-b', 'acct-c', 'acct-d'];
const eventsPerKeyAndRun = 6;
const runs = ['lz4', 'none', 'zstd', 'none', 'snappy', 'gzip', 'lz4', 'none'] as const;

describe('OrderedConsumer: batches from a foreign producer with every codec', () => {
  it('applies every valid event once in per-key order, dead-letters every malformed one, commits to the end', async () => {
    const topic = await createTestTopic({ partitions, prefix: 'foreign-codecs' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    const dlt = deadLetterTopicOf(topic, groupId);
    await admin.createTopics({ topics: [{ topic: dlt, numPartitions: partitions }], waitForLeaders: true });
    const subject = `${topic}-value`;
    const registry = testRegistry();
    const encoder = new AvroEncoder({ registry, autoRegister: true });
    const schemaId = await encoder.schemaId(subject, type);
    try {
      const records: ForeignRecord[] = [];
      const sequenceOf = new Map<string, number>();
      let malformed = 0;
      for (const [run, compression] of runs.entries()) {
        for (let round = 0; round < eventsPerKeyAndRun; round++) {
          keys.forEach((key, index) => {
            const sequence = (sequenceOf.get(key) ?? 0) + 1;
            sequenceOf.set(key, sequence);
            const value = encoder.frame(schemaId, type, { accountId: key, sequence, amountMinor: 100 * sequence, currency: 'EUR' });
            records.push({ compression, partition: index % partitions, key, value });
          });
        }
        // Per partition and run: one value that is not Avro at all, one that names a schema id nobody registered.
        for (let partition = 0; partition < partitions; partition++) {
          records.push({ compression, partition, key: `bad-${run}-${compression}-${partition}`, value: Buffer.from('{"not":"avro"}') });
          records.push({ compression, partition, key: `unknown-${run}-${compression}-${partition}`, value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 4]) });
          malformed += 2;
        }
      }
      const output = await produceWithJava(testStack().settings.KAFKA_BROKERS.split(',')[0]!, topic, records);
      expect(output).toContain(`sent ${records.length}`);

      const applied = new Map<string, number[]>();
      let appliedCount = 0;
      const consumer = startTestConsumer<Deposit>({
        groupId,
        topics: [topic],
        decoder: new AvroCodec<Deposit>({ source: registry, schemaNotFoundAttempts: 1 }),
        inPlaceRetries: 0,
        handler: async ({ key, value }) => {
          expect(value.accountId).toBe(key);
          applied.set(value.accountId, [...(applied.get(value.accountId) ?? []), Number(value.sequence)]);
          appliedCount++;
        },
      });
      await consumer.start();
      const validCount = keys.length * eventsPerKeyAndRun * runs.length;
      await eventually(() => appliedCount >= validCount, () => `${appliedCount} of ${validCount} valid events applied`, 90_000);

      const deadLetters = await readAll(dlt, malformed);
      expect(deadLetters).toHaveLength(malformed);
      const reasons = deadLetters.map((message) => String(message.headers?.[forwardHeaders.reason]));
      expect(new Set(reasons)).toEqual(new Set(['decode-error', 'schema-not-found']));
      expect(reasons.filter((reason) => reason === 'decode-error')).toHaveLength(malformed / 2);
      expect(new Set(deadLetters.map((message) => message.key!.toString())).size).toBe(malformed);

      // Once each, in per-key order.
      for (const key of keys) expect(applied.get(key), key).toEqual(Array.from({ length: eventsPerKeyAndRun * runs.length }, (_, index) => index + 1));
      expect(appliedCount).toBe(validCount);

      const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, high]));
      expect([...ends.values()].every((high) => Number(high) > 0)).toBe(true);
      let committed = new Map<number, string>();
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 250))) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        committed = new Map(offsets!.partitions.map(({ partition, offset }) => [partition, offset]));
        if ([...ends].every(([partition, high]) => committed.get(partition) === high)) break;
      }
      expect(committed).toEqual(ends);
      expect(consumer.health()).toEqual({ ready: true, reasons: [] });
    } finally {
      await deleteSubject(subject);
    }
  });
});
