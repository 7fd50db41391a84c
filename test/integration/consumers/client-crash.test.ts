/**
 * A crash of the Kafka client's consumer on an error it does not retry (here the broker refuses the join with
 * INCONSISTENT_GROUP_PROTOCOL while another application, with another assignor, holds the group): the member
 * reports it (event, metric, /readyz 503 naming the error) and restarts the client with a backoff until it
 * joins, then consumes and is ready; with `restartOnCrash: false` it stops and `whenStopped()` rejects.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumerEvents } from '../../../consumers/events.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../../support/test-stack.ts';

/** A plain kafkajs consumer (round-robin assignor) that holds `groupId` until it is disconnected. */
async function otherApplicationIn(groupId: string, topic: string) {
  const other = testKafka().consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const joined = new Promise<void>((resolve) => other.on(other.events.GROUP_JOIN, () => resolve()));
  await other.connect();
  await other.subscribe({ topics: [topic], fromBeginning: true });
  // No commits: the events the test publishes while it holds the group are for the member under test.
  await other.run({ autoCommit: false, eachMessage: async () => undefined });
  await joined;
  return other;
}

describe('OrderedConsumer: a crash of the Kafka client consumer', () => {
  it('is reported (event, metric, /readyz 503) and the client is restarted with a backoff until it joins and consumes', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'client-crash' });
    const groupId = testGroupId();
    const other = await otherApplicationIn(groupId, topic);
    let handled = 0;
    const crashes: ConsumerEvents['consumer.client.crashed'][0][] = [];
    const consumer = startTestConsumer({ groupId, topics: [topic], handler: async () => void handled++ });
    consumer.events.on('consumer.client.crashed', (crash) => crashes.push(crash));
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const instrumentation = instrumentConsumer(consumer, { groupId, metrics });
    const server = await startObservabilityServer({ port: 0, host: '127.0.0.1', metrics, readiness: [instrumentation] });
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      return { status: response.status, reasons: ((await response.json()) as { reasons: string[] }).reasons };
    };
    try {
      await consumer.start();
      await eventually(() => crashes.length > 0, () => 'no crash reported');
      expect(crashes[0]).toMatchObject({ groupId, errorType: 'INCONSISTENT_GROUP_PROTOCOL', restart: 'member' });
      expect(crashes[0]!.restartInMs).toBeGreaterThan(0);
      expect(consumer.stats().clientDown).toBe(true);
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.reasons.join('\n')).toMatch(/the Kafka client consumer crashed \(INCONSISTENT_GROUP_PROTOCOL: .*\); restart \d+ in \d+ ms/);
      expect(await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()).toMatch(new RegExp(`orderly_client_crashes_total\\{group="${groupId}",restart="member"\\} [1-9]`));

      await produce(topic, sequencedEvents(20, 4));
      await other.disconnect(); // the other application leaves: the next restart joins
      await eventually(() => handled === 20, () => `${handled} of 20 handled after the restart (crashes: ${crashes.length})`);
      expect(consumer.stats().clientDown).toBe(false);
      expect(consumer.health()).toEqual({ ready: true, reasons: [] });
      expect(await readyz()).toEqual({ status: 200, reasons: [] });
    } finally {
      await server.stop();
      instrumentation.detach();
      await other.disconnect();
    }
    await consumer.stop();
  });

  it('restartOnCrash: false stops the member, whenStopped() rejects with CLIENT_CRASHED, and stop() does not throw', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'client-crash-stop' });
    const groupId = testGroupId();
    const other = await otherApplicationIn(groupId, topic);
    try {
      const crashes: ConsumerEvents['consumer.client.crashed'][0][] = [];
      const consumer = startTestConsumer({ groupId, topics: [topic], handler: async () => undefined, restartOnCrash: false });
      consumer.events.on('consumer.client.crashed', (crash) => crashes.push(crash));
      await consumer.start();
      await expect(consumer.whenStopped()).rejects.toMatchObject({ code: 'CLIENT_CRASHED', message: expect.stringMatching(/INCONSISTENT_GROUP_PROTOCOL.*restartOnCrash is false/) as unknown });
      expect(crashes).toEqual([{ groupId, errorType: 'INCONSISTENT_GROUP_PROTOCOL', restart: 'none' }]);
      await expect(consumer.stop()).resolves.toBeUndefined();
    } finally {
      await other.disconnect();
    }
  });

  it('a crash while partitions are held (the topic deleted under the member): reported with restart by kafkajs, and stop() then does not throw', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'client-crash-deleted' });
    const groupId = testGroupId();
    await produce(topic, sequencedEvents(20, 4));
    let handled = 0;
    const consumer = startTestConsumer({ groupId, topics: [topic], handler: async () => void handled++ });
    const crashed = new Promise<ConsumerEvents['consumer.client.crashed'][0]>((resolve) => consumer.events.once('consumer.client.crashed', resolve));
    await consumer.start();
    await eventually(() => handled === 20, () => `${handled} of 20 handled`);
    await (await testAdmin()).deleteTopics({ topics: [topic] });
    const crash = await crashed;
    expect(crash).toMatchObject({ groupId, restart: 'kafkajs' });
    expect(consumer.health().ready).toBe(false);
    // Right after the crash, before kafkajs restarts its consumer: this threw "Consumer group was not initialized".
    await expect(consumer.stop()).resolves.toBeUndefined();
    await expect(consumer.whenStopped()).resolves.toBeUndefined();
  });
});
