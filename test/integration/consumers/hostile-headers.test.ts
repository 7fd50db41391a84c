import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { rawHeadersOf } from '../../../core/headers.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, type SequencedEvent } from '../../support/consumer-harness.ts';

const run = promisify(execFile);

/** Every own property name of Object.prototype, an empty name, repeats, and enough names for a thousand headers. */
const hostileNames = [
  ...Object.getOwnPropertyNames(Object.prototype),
  '',
  'constructor',
  '__proto__',
  ...Array.from({ length: 1_000 - Object.getOwnPropertyNames(Object.prototype).length - 3 }, (_, index) => `h${index % 7}`),
];

describe('OrderedConsumer: hostile header names', () => {
  it('dead-letters an undecodable record with any header names, headers byte for byte, and commits to the end of every partition', async () => {
    const partitions = 3;
    const topic = await createTestTopic({ partitions, prefix: 'hostile-headers' });
    const groupId = testGroupId();
    const dlt = deadLetterTopicOf(topic, groupId);
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic: dlt, numPartitions: partitions }], waitForLeaders: true });
    // Produced by Kafka's Java client, not kafkajs: one per partition, first in each.
    const { stdout } = await run('java', ['-cp', 'infra/kafka/target/libs/*', 'test/support/java/HostileHeaders.java', testStack().settings.KAFKA_BROKERS, topic, String(partitions), '{not json', ...hostileNames], { maxBuffer: 1 << 20 });
    expect(stdout.trim()).toBe('ok');
    const valid = sequencedEvents(300, 30);
    await produce(topic, valid);

    const handled: SequencedEvent[] = [];
    const consumer = startTestConsumer<SequencedEvent>({ groupId, topics: [topic], decoder: jsonDecoder as never, handler: async ({ value }) => void handled.push(value) });
    await consumer.start();

    const deadLetters = await readAll(dlt, partitions);
    expect(deadLetters).toHaveLength(partitions);
    for (const message of deadLetters) {
      const list = rawHeadersOf(message.headers);
      const own = list.slice(0, hostileNames.length);
      expect(own.map(({ name }) => name.toString('utf8'))).toEqual(hostileNames);
      expect(own.map(({ value }) => value?.toString('utf8'))).toEqual(hostileNames.map((_, index) => `v${index}`));
      expect(list.find(({ name }) => name.toString() === 'orderly-dlt-reason')?.value?.toString()).toBe('decode-error');
    }
    await eventually(() => handled.length >= valid.length, () => `${handled.length} of ${valid.length} valid events handled`);
    const lastOf = new Map<string, number>();
    for (const { key, sequence } of handled) {
      expect(sequence).toBe((lastOf.get(key) ?? 0) + 1);
      lastOf.set(key, sequence);
    }
    // Committed at the end of every partition: nothing stalls behind a hostile header.
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, high]));
    let committed = new Map<number, string>();
    for (let tries = 0; tries < 100; tries++) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      committed = new Map(offsets!.partitions.map(({ partition, offset }) => [partition, offset]));
      if ([...ends].every(([partition, high]) => committed.get(partition) === high)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(Object.fromEntries(committed)).toEqual(Object.fromEntries(ends));
  });
});
