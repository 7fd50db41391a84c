import { describe, expect, it } from 'vitest';
import { deadLetterTopicOf, ensureTopicLayout, forwardHeadroomBytes, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { rawHeadersOf, readRawHeader } from '../../../core/headers.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, type SequencedEvent } from '../../support/consumer-harness.ts';

const sourceMaxBytes = 50_000;

async function maxMessageBytes(topics: string[]): Promise<Record<string, number>> {
  const admin = await testAdmin();
  const described = await admin.describeConfigs({ resources: topics.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })), includeSynonyms: false });
  return Object.fromEntries(described.resources.map((resource) => [resource.resourceName, Number(resource.configEntries[0]!.configValue)]));
}

async function committedAtEnd(groupId: string, topic: string): Promise<void> {
  const admin = await testAdmin();
  const ends = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, high]));
  let committed: Record<number, string> = {};
  for (let tries = 0; tries < 100; tries++) {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    committed = Object.fromEntries(offsets!.partitions.map(({ partition, offset }) => [partition, offset]));
    if (JSON.stringify(committed) === JSON.stringify(ends)) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  expect(committed).toEqual(ends);
}

describe('OrderedConsumer: a forward the broker can never take (issue 15, defect 2)', () => {
  it('creates tiers and the DLT with max.message.bytes above the source, so a near-limit record is forwarded whole', async () => {
    const admin = await testAdmin();
    const topic = uniqueName('near-limit');
    const groupId = testGroupId();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: String(sourceMaxBytes) }] }], waitForLeaders: true });
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 1 });
    const sizes = await maxMessageBytes([retryTopicOf(topic, groupId, 1), deadLetterTopicOf(topic, groupId)]);
    expect(Object.values(sizes)).toEqual([sourceMaxBytes + forwardHeadroomBytes, sourceMaxBytes + forwardHeadroomBytes]);

    await produce(topic, [{ key: 'big', value: `{${'x'.repeat(sourceMaxBytes - 600)}` }]);
    await produce(topic, sequencedEvents(40, 4));
    const handled: SequencedEvent[] = [];
    const consumer = startTestConsumer<SequencedEvent>({ groupId, topics: [topic], decoder: jsonDecoder as never, handler: async ({ value }) => void handled.push(value) });
    await consumer.start();
    const [dead] = await readAll(deadLetterTopicOf(topic, groupId), 1);
    expect(readRawHeader(rawHeadersOf(dead!.headers), 'orderly-dlt-reason')).toBe('decode-error');
    expect(dead!.value!.length).toBe(sourceMaxBytes - 599);
    await eventually(() => handled.length === 40, () => `${handled.length} of 40 handled`);
    await committedAtEnd(groupId, topic);
  });

  it('sends a stub as forward-rejected when the DLT cannot take the record with its headers, and commits past it', async () => {
    const admin = await testAdmin();
    const topic = uniqueName('too-large');
    const groupId = testGroupId();
    const dlt = deadLetterTopicOf(topic, groupId);
    // A DLT made by hand with the source's limit: no room for the forward's headers.
    const limited = [{ name: 'max.message.bytes', value: String(sourceMaxBytes) }];
    await admin.createTopics({ topics: [topic, dlt].map((name) => ({ topic: name, numPartitions: 2, configEntries: limited })), waitForLeaders: true });
    await produce(topic, [{ key: 'big', value: `{${'x'.repeat(sourceMaxBytes - 300)}`, headers: { 'orderly-event-id': 'big-1' } }]);
    await produce(topic, sequencedEvents(40, 4));
    const handled: SequencedEvent[] = [];
    const consumer = startTestConsumer<SequencedEvent>({ groupId, topics: [topic], decoder: jsonDecoder as never, handler: async ({ value }) => void handled.push(value) });
    await consumer.start();
    const [dead] = await readAll(dlt, 1);
    const headers = rawHeadersOf(dead!.headers);
    expect(readRawHeader(headers, 'orderly-dlt-reason')).toBe('forward-rejected');
    expect(readRawHeader(headers, 'orderly-reduced-form')).toBe('stub');
    expect(readRawHeader(headers, 'orderly-event-id')).toBe('big-1');
    expect(readRawHeader(headers, 'orderly-original-offset')).toBe('0');
    expect(readRawHeader(headers, 'orderly-original-topic')).toBe(topic);
    expect(dead!.value).toBeNull();
    await eventually(() => handled.length === 40, () => `${handled.length} of 40 handled`);
    await committedAtEnd(groupId, topic);
  });
});
