/**
 * A record batch the broker accepted and nobody can decode (an LZ4 frame with a flipped checksum bit): the
 * member stays alive, keeps consuming its other partitions, stops the bad partition at the batch and says so
 * (log, event, metric, /readyz 503 naming topic, partition and offsets); with skipUndecodableBatches it writes
 * an `undecodable-batch` stub with the batch's coordinates to the DLT and commits past it.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumerEvents } from '../../../consumers/events.ts';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, type SequencedEvent } from '../../support/consumer-harness.ts';
import { produceCorruptLz4Batch } from '../../support/corrupt-batch.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';

async function committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
  const [committed] = await (await testAdmin()).fetchOffsets({ groupId, topics: [topic] });
  return new Map(committed!.partitions.map(({ partition, offset }) => [partition, offset]));
}

/** Partition 0: 10 events, the corrupt batch of 5 (offsets 10..14), 10 events. Partition 1: 20 events. */
async function topicWithCorruptBatch(groupId: string): Promise<string> {
  const topic = await createTestTopic({ partitions: 2, prefix: 'undecodable' });
  const admin = await testAdmin();
  await admin.createTopics({ topics: [{ topic: deadLetterTopicOf(topic, groupId), numPartitions: 2 }], waitForLeaders: true });
  const events = sequencedEvents(40, 4);
  const [before, after, other] = [events.slice(0, 10), events.slice(10, 20), events.slice(20)];
  await produce(topic, before.map((message) => ({ ...message, partition: 0 })));
  await produceCorruptLz4Batch(topic, 0, Array.from({ length: 5 }, (_, index) => ({ key: `corrupt-${index}`, value: `{"key":"corrupt-${index}","sequence":1}` })));
  await produce(topic, [...after.map((message) => ({ ...message, partition: 0 })), ...other.map((message) => ({ ...message, partition: 1 }))]);
  return topic;
}

function handlerCounting(handled: Map<number, string[]>) {
  return async ({ partition, offset }: { partition: number; offset: string }) => {
    handled.set(partition, [...(handled.get(partition) ?? []), offset]);
  };
}

describe('OrderedConsumer: a record batch that cannot be decoded', () => {
  it('stops only its partition, at the batch, and reports it (log line, event, metric, /readyz 503)', async () => {
    const groupId = testGroupId();
    const topic = await topicWithCorruptBatch(groupId);
    const handled = new Map<number, string[]>();
    const reported: ConsumerEvents['consumer.batch.undecodable'][0][] = [];
    const logged: string[] = [];
    const logger = (await import('pino')).pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
    const consumer = startTestConsumer<SequencedEvent>({ groupId, topics: [topic], decoder: jsonDecoder as never, handler: handlerCounting(handled), logger });
    consumer.events.on('consumer.batch.undecodable', (event) => reported.push(event));
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const instrumentation = instrumentConsumer(consumer, { groupId, metrics });
    const server = await startObservabilityServer({ port: 0, host: '127.0.0.1', metrics, readiness: [instrumentation] });
    try {
      await consumer.start();
      await eventually(() => (handled.get(1)?.length ?? 0) === 20 && (handled.get(0)?.length ?? 0) === 10 && reported.length === 1, () => `handled ${JSON.stringify([...handled])}, reported ${reported.length}`);
      expect(reported[0]).toEqual({ topic, partition: 0, offset: '10', lastOffset: '14', codec: 'lz4', action: 'blocked' });
      expect(handled.get(0)).toEqual(Array.from({ length: 10 }, (_, index) => String(index)));

      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { reasons: string[] };
      expect(body.reasons.join('\n')).toMatch(new RegExp(`${topic} partition 0 is stopped at an undecodable lz4 batch \\(offsets 10\\.\\.14\\).*skipUndecodableBatches`));
      expect(await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()).toContain(`orderly_undecodable_batches_total{group="${groupId}",topic="${topic}",partition="0",action="blocked"} 1`);
      const line = logged.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.codec === 'lz4');
      expect(line).toMatchObject({ topic, partition: 0, offset: '10', lastOffset: '14', records: 5 });

      // Still stopped there a while later, not one record past it taken, and the commit sits at the batch.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(handled.get(0)).toHaveLength(10);
      const committed = await committedOffsets(groupId, topic);
      expect(committed.get(0)).toBe('10');
      expect(committed.get(1)).toBe('20');
      expect(consumer.stats().blockedPartitions).toBe(1);
    } finally {
      await server.stop();
      instrumentation.detach();
    }
    await consumer.stop(); // alive to the end: stops cleanly
  });

  it('skipUndecodableBatches: an undecodable-batch stub with its coordinates goes to the DLT and the partition moves past it', async () => {
    const groupId = testGroupId();
    const topic = await topicWithCorruptBatch(groupId);
    const handled = new Map<number, string[]>();
    const consumer = startTestConsumer<SequencedEvent>({ groupId, topics: [topic], decoder: jsonDecoder as never, handler: handlerCounting(handled), skipUndecodableBatches: true });
    await consumer.start();
    await eventually(() => (handled.get(0)?.length ?? 0) === 20 && (handled.get(1)?.length ?? 0) === 20, () => `handled ${JSON.stringify([...handled])}`);
    expect(handled.get(0)).toEqual([...Array.from({ length: 10 }, (_, index) => String(index)), ...Array.from({ length: 10 }, (_, index) => String(index + 15))]);

    const [stub, ...others] = await readAll(deadLetterTopicOf(topic, groupId), 1);
    expect(others).toHaveLength(0);
    const header = (name: string) => stub!.headers?.[name]?.toString();
    expect(header(forwardHeaders.reason)).toBe('undecodable-batch');
    expect(header(forwardHeaders.originalTopic)).toBe(topic);
    expect(header(forwardHeaders.originalPartition)).toBe('0');
    expect(header(forwardHeaders.originalOffset)).toBe('10');
    expect(header(forwardHeaders.errorType)).toBe('UNDECODABLE_BATCH');
    expect(header(forwardHeaders.errorMessage)).toMatch(new RegExp(`^lz4 record batch at ${topic}/0 offsets 10\\.\\.14 \\(5 records\\) could not be decoded: lz4: `));
    expect(stub!.key).toBeNull();
    expect(stub!.value).toBeNull();

    let committed = new Map<number, string>();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
      committed = await committedOffsets(groupId, topic);
      if (committed.get(0) === '25' && committed.get(1) === '20') break;
    }
    expect(Object.fromEntries(committed)).toEqual({ 0: '25', 1: '20' });
    expect(consumer.health().ready).toBe(true);
  });
});
