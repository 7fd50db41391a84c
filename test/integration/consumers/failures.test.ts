import { describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../../core/errors.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';
import { eventually, produce, readAll, sequencedEvents, startTestConsumer, type SequencedEvent } from '../../support/consumer-harness.ts';

async function createDeadLetterTopic(topic: string, groupId: string, partitions: number): Promise<string> {
  const admin = await testAdmin();
  const dlt = deadLetterTopicOf(topic, groupId);
  await admin.createTopics({ topics: [{ topic: dlt, numPartitions: partitions }], waitForLeaders: true });
  return dlt;
}

function header(message: { headers?: Record<string, unknown> }, name: string): string | undefined {
  const value = message.headers?.[name];
  return value === undefined ? undefined : String(value);
}

async function committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
  const admin = await testAdmin();
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(committed!.partitions.map(({ partition, offset }) => [partition, offset]));
}

describe('OrderedConsumer: failures', () => {
  it('dead-letters each kind of failure with its reason, on the original partition, and commits past them', async () => {
    const topic = await createTestTopic({ partitions: 3, prefix: 'failures' });
    const groupId = testGroupId();
    const dlt = await createDeadLetterTopic(topic, groupId, 3);
    await produce(topic, [
      { key: null, value: JSON.stringify({ key: '', sequence: 1 }) },
      { key: 'garbled', value: '{not json' },
      { key: 'poison', value: JSON.stringify({ key: 'poison', sequence: 1 }) },
      { key: 'always-fails', value: JSON.stringify({ key: 'always-fails', sequence: 1 }) },
      { key: 'fails-once', value: JSON.stringify({ key: 'fails-once', sequence: 1 }) },
      ...sequencedEvents(100, 10),
    ]);
    const attemptsOf = new Map<string, number>();
    let handled = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      inPlaceRetries: 2,
      retryBackoffMs: 10,
      handler: async ({ value }, { attempt }) => {
        attemptsOf.set(value.key, attempt);
        if (value.key === 'poison') throw new NonRetryableError('this event can never be applied');
        if (value.key === 'always-fails') throw new Error(`downstream unavailable (attempt ${attempt})`);
        if (value.key === 'fails-once' && attempt === 1) throw new Error('transient');
        handled++;
      },
    });
    await consumer.start();
    const deadLetters = await readAll(dlt, 4);
    const byReason = new Map(deadLetters.map((message) => [header(message, forwardHeaders.reason), message]));
    expect([...byReason.keys()].sort()).toEqual(['decode-error', 'missing-key', 'non-retryable', 'retries-exhausted']);
    expect(byReason.get('missing-key')!.key).toBeNull();
    expect(byReason.get('decode-error')!.value!.toString()).toBe('{not json');
    expect(header(byReason.get('non-retryable')!, forwardHeaders.attempt)).toBe('1');
    expect(header(byReason.get('retries-exhausted')!, forwardHeaders.attempt)).toBe('3');
    expect(header(byReason.get('retries-exhausted')!, forwardHeaders.errorMessage)).toBe('downstream unavailable (attempt 3)');
    expect(header(byReason.get('retries-exhausted')!, forwardHeaders.consumerGroup)).toBe(groupId);
    expect(attemptsOf.get('always-fails')).toBe(3);
    expect(attemptsOf.get('fails-once')).toBe(2);
    await eventually(() => handled >= 101, () => `${handled} of 101 handled`);

    // Each dead letter sits on the partition its original came from.
    const admin = await testAdmin();
    const sourceEnds = await admin.fetchTopicOffsets(topic);
    for (const message of deadLetters) {
      const originalPartition = Number(header(message, forwardHeaders.originalPartition));
      expect(sourceEnds.some((end) => end.partition === originalPartition)).toBe(true);
    }
    const dltOffsets = await admin.fetchTopicOffsets(dlt);
    const dltCountByPartition = new Map(dltOffsets.map(({ partition, high }) => [partition, Number(high)]));
    const expectedByPartition = new Map<number, number>();
    for (const message of deadLetters) {
      const partition = Number(header(message, forwardHeaders.originalPartition));
      expectedByPartition.set(partition, (expectedByPartition.get(partition) ?? 0) + 1);
    }
    for (const [partition, count] of expectedByPartition) expect(dltCountByPartition.get(partition)).toBe(count);

    await expect
      .poll(async () => {
        const committed = await committedOffsets(groupId, topic);
        return sourceEnds.every(({ partition, high }) => committed.get(partition) === high);
      }, { timeout: 30_000 })
      .toBe(true);
  });

  it('cuts a hung handler at the timeout, dead-letters it as handler-timeout, and moves its key on while other keys flow', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'hung' });
    const groupId = testGroupId();
    const dlt = await createDeadLetterTopic(topic, groupId, 1);
    await produce(topic, [
      { key: 'stuck', value: JSON.stringify({ key: 'stuck', sequence: 1 }) },
      ...sequencedEvents(300, 30),
      { key: 'stuck', value: JSON.stringify({ key: 'stuck', sequence: 2 }) },
    ]);
    const handled: string[] = [];
    let othersHandledWhileStuck = 0;
    let stuckSettled = false;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      handlerTimeoutMs: 1_000,
      inPlaceRetries: 2,
      retryBackoffMs: 10,
      handler: async ({ value }) => {
        if (value.key === 'stuck' && value.sequence === 1) {
          await new Promise(() => undefined); // hangs, and ignores its abort signal
        }
        if (value.key !== 'stuck' && !stuckSettled) othersHandledWhileStuck++;
        handled.push(`${value.key}#${value.sequence}`);
      },
    });
    consumer.events.on('consumer.record.dead-lettered', () => (stuckSettled = true));
    await consumer.start();
    await eventually(() => handled.includes('stuck#2'), () => `${handled.length} handled, stuck#2 not yet`);
    expect(handled).not.toContain('stuck#1');
    expect(othersHandledWhileStuck).toBeGreaterThan(0);
    const [deadLetter] = await readAll(dlt, 1);
    expect(header(deadLetter!, forwardHeaders.reason)).toBe('handler-timeout');
    expect(deadLetter!.key!.toString()).toBe('stuck');
    await eventually(() => handled.length >= 301, () => `${handled.length} of 301`);
  });

  it('never commits past a record whose forward to the DLT fails, and goes on once the DLT exists', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'no-dlt' });
    const groupId = testGroupId();
    await produce(topic, [{ key: 'poison', value: JSON.stringify({ key: 'poison', sequence: 1 }) }, ...sequencedEvents(50, 5)]);
    let handled = 0;
    let forwardFailures = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      handler: async ({ value }) => {
        if (value.key === 'poison') throw new NonRetryableError('poison');
        handled++;
      },
    });
    consumer.events.on('consumer.forward.failed', () => forwardFailures++);
    await consumer.start();
    await eventually(() => handled >= 50 && forwardFailures >= 1, () => `handled ${handled}, forward failures ${forwardFailures}`);
    // Everything after the poison record is handled, yet the commit stays at it: nothing is skipped.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await committedOffsets(groupId, topic)).get(0)).toMatch(/^(-1|0)$/);

    const dlt = await createDeadLetterTopic(topic, groupId, 1);
    const [deadLetter] = await readAll(dlt, 1, 90_000);
    expect(header(deadLetter!, forwardHeaders.reason)).toBe('non-retryable');
    await expect.poll(async () => (await committedOffsets(groupId, topic)).get(0), { timeout: 60_000 }).toBe('51');
  });

  it('refuses to start on a topic that does not exist, naming it, and leaves the consumer stopped (never auto-created)', async () => {
    const topic = `missing-${testGroupId()}`;
    const consumer = startTestConsumer({ groupId: testGroupId(), topics: [topic], handler: async () => undefined });
    const error = await consumer.start().catch((caught: unknown) => caught as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(topic);
    await consumer.stop(); // a no-op: nothing was left connected or running
    await expect(consumer.start()).rejects.toThrow(/start\(\) may be called once; this consumer is stopped/);
    expect(await (await testAdmin()).listTopics()).not.toContain(topic);
  });
});
