/**
 * `stop()` commits the final watermark: while an older commit is still in flight (it used to return that
 * commit's promise, so the records completed after it were handled again by the next owner), and while the
 * group rebalances (it used to commit nothing then).
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Consumer } from '../../../core/kafka-client.ts';
import { OrderedConsumer } from '../../../consumers/ordered-consumer.ts';
import type { OrderedConsumerOptions } from '../../../consumers/options.ts';
import { createTestTopic, testAdmin, testGroupId, testStack } from '../../support/test-stack.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';

async function committedOffset(groupId: string, topic: string): Promise<string | undefined> {
  const admin = await testAdmin();
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return committed?.partitions.find(({ partition }) => partition === 0)?.offset;
}

/** The kafkajs consumer inside an OrderedConsumer: the place a slow broker answer is injected. */
function kafkaConsumerOf(consumer: OrderedConsumer<unknown>): Consumer {
  return (consumer as unknown as { consumer: Consumer }).consumer;
}

/** A member with a client id of our choosing (member ids start with it), stopped when the test ends. */
function member(clientId: string, options: Omit<OrderedConsumerOptions<unknown>, 'kafka'>): OrderedConsumer<unknown> {
  const consumer = new OrderedConsumer<unknown>({
    kafka: { brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId },
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    shutdownTimeoutMs: 10_000,
    retryTiersMs: [],
    ...options,
  });
  onTestFinished(() => consumer.stop());
  return consumer;
}

describe('the final commit', () => {
  it('is made after a commit still in flight, with the watermark as it is at stop()', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'final-commit' });
    const groupId = testGroupId();
    await produce(topic, sequencedEvents(20, 20));
    let gate!: () => void;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    let handled = 0;
    const consumer = startTestConsumer<unknown>({
      groupId,
      topics: [topic],
      commitIntervalMs: 100,
      handler: async (event) => {
        if (Number(event.offset) >= 10) await opened;
        handled++;
      },
    });
    await consumer.start();
    const kafka = kafkaConsumerOf(consumer);
    const commitOffsets = kafka.commitOffsets.bind(kafka);
    const sent: string[] = [];
    // Every commit takes 1.5 s to be answered from now on.
    vi.spyOn(kafka, 'commitOffsets').mockImplementation(async (offsets) => {
      sent.push(offsets.map(({ offset }) => offset).join(','));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      return commitOffsets(offsets);
    });
    await eventually(() => handled === 10 && sent.includes('10'), () => `handled ${handled}, commits sent ${sent.join(' ')}`, 30_000);
    gate();
    await eventually(() => handled === 20, () => `handled ${handled}`, 30_000);
    await consumer.stop();
    expect(sent.at(-1)).toBe('20');
    expect(await committedOffset(groupId, topic)).toBe('20');
  });

  it('is made when stop() comes during a rebalance', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'final-commit-rebalance' });
    const groupId = testGroupId();
    await produce(topic, sequencedEvents(5, 5));
    let gate!: () => void;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    let handled = 0;
    // Member ids start with the client id, and the assigner deals partitions over the sorted ids: the first
    // member keeps the only partition in the new generation, so its completed record is its own to commit.
    const first = member('a-first', {
      groupId,
      topics: [topic],
      commitIntervalMs: 60_000,
      handler: async (event) => {
        if (event.offset === '4') await opened;
        handled++;
      },
    });
    await first.start();
    const firstCommits: string[] = [];
    first.events.on('consumer.offsets.committed', ({ offsets }) => firstCommits.push(offsets.map(({ offset }) => offset).join(',')));
    await eventually(() => handled === 4, () => `handled ${handled}`, 30_000);
    // The rebalance's own commit carries offset 4 (the last record is still running); the record then
    // completes during the rebalance, and stop() must commit 5.
    let stopped: Promise<void> | undefined;
    first.events.once('consumer.group.rebalancing', () => {
      gate();
      stopped = first.stop();
    });
    let handledBySecond = 0;
    const second = member('b-second', { groupId, topics: [topic], handler: async () => void handledBySecond++ });
    await second.start();
    await eventually(() => stopped !== undefined, () => 'no rebalance seen by the first member', 30_000);
    await stopped;
    expect(handled).toBe(5);
    expect(firstCommits.at(-1)).toBe('5');
    expect(await committedOffset(groupId, topic)).toBe('5');
    expect(handledBySecond).toBe(0);
    await second.stop();
  });

  it('is bounded: a handler that never returns is abandoned after shutdownTimeoutMs, and nothing past it is committed', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'final-commit-hung' });
    const groupId = testGroupId();
    await produce(topic, sequencedEvents(10, 10));
    let handled = 0;
    const consumer = startTestConsumer<unknown>({
      groupId,
      topics: [topic],
      shutdownTimeoutMs: 2_000,
      // Offset 6 hangs and ignores its abort signal; the others complete.
      handler: async (event) => {
        if (event.offset === '6') await new Promise(() => undefined);
        handled++;
      },
    });
    await consumer.start();
    await eventually(() => handled === 9, () => `handled ${handled}`, 30_000);
    const stoppingAt = Date.now();
    await consumer.stop();
    const tookMs = Date.now() - stoppingAt;
    expect(tookMs).toBeGreaterThanOrEqual(1_000);
    expect(tookMs).toBeLessThan(2_000 + 5_000);
    expect(await committedOffset(groupId, topic)).toBe('6');
  });
});
