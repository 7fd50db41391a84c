import { describe, expect, it } from 'vitest';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer, type SequencedEvent } from '../../support/consumer-harness.ts';

describe('OrderedConsumer: per-key order with key-level concurrency', () => {
  it('handles 50,000 events of 1,000 keys on 12 partitions: each key complete and strictly in order, then commits to the end', async () => {
    const topic = await createTestTopic({ partitions: 12, prefix: 'order' });
    const total = 50_000;
    await produce(topic, sequencedEvents(total, 1_000));
    const handled = new Map<string, number[]>();
    const inFlightKeys = new Set<string>();
    let overlaps = 0;
    let count = 0;
    const groupId = testGroupId();
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      concurrency: 200,
      handler: async ({ value }) => {
        if (inFlightKeys.has(value.key)) overlaps++;
        inFlightKeys.add(value.key);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        inFlightKeys.delete(value.key);
        const list = handled.get(value.key) ?? [];
        list.push(value.sequence);
        handled.set(value.key, list);
        count++;
      },
    });
    await consumer.start();
    await eventually(() => count >= total, () => `${count} of ${total} handled`, 180_000);

    expect(overlaps).toBe(0);
    expect(handled.size).toBe(1_000);
    for (const [key, sequences] of handled) {
      expect(sequences, key).toEqual(Array.from({ length: total / 1_000 }, (_, index) => index + 1));
    }
    const admin = await testAdmin();
    const ends = await admin.fetchTopicOffsets(topic);
    await expect
      .poll(async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return committed!.partitions.every(({ partition, offset }) => offset === ends.find((end) => end.partition === partition)!.high);
      }, { timeout: 30_000 })
      .toBe(true);
  });

  it('runs keys concurrently: 1 partition, 200 keys, 20 ms handlers, concurrency 100 reaches a peak of at least 50, never two calls for one key', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'concurrency' });
    const total = 2_000;
    await produce(topic, sequencedEvents(total, 200));
    let inFlight = 0;
    let peak = 0;
    let count = 0;
    const inFlightKeys = new Set<string>();
    let overlaps = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId: testGroupId(),
      topics: [topic],
      decoder: jsonDecoder as never,
      concurrency: 100,
      handler: async ({ value }) => {
        if (inFlightKeys.has(value.key)) overlaps++;
        inFlightKeys.add(value.key);
        peak = Math.max(peak, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        inFlightKeys.delete(value.key);
        count++;
      },
    });
    await consumer.start();
    await eventually(() => count >= total, () => `${count} of ${total} handled`);
    expect(overlaps).toBe(0);
    expect(peak).toBeGreaterThanOrEqual(50);
    expect(peak).toBeLessThanOrEqual(100);
  });

  it("with ordering 'partition' runs one record at a time per partition", async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'by-partition' });
    await produce(topic, sequencedEvents(400, 40));
    let inFlight = 0;
    let peak = 0;
    let count = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId: testGroupId(),
      topics: [topic],
      decoder: jsonDecoder as never,
      ordering: 'partition',
      concurrency: 50,
      handler: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        count++;
      },
    });
    await consumer.start();
    await eventually(() => count >= 400, () => `${count} of 400 handled`);
    expect(peak).toBeLessThanOrEqual(2);
  });
});
