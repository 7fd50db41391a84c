/**
 * The stall behind the failed rolling restart of the three-node cluster (issue 21), on the shared broker.
 * kafkajs 2.2.4, when a coordinator moves: a heartbeat answered NOT_COORDINATOR makes its runner emit
 * REBALANCING and rejoin; when that JoinGroup fails with a retriable error (GROUP_LOAD_IN_PROGRESS: the new
 * coordinator is still loading the group), the runner's retry simply fetches again in its previous generation,
 * and no GROUP_JOIN ever follows. A member that waited for the join to start records again stalled for good,
 * silently, with every partition "rebalancing". The two answers are injected into kafkajs's own ConsumerGroup
 * (the module instance kafkajs runs), once each; everything else is the real client against the real broker.
 *
 * After such a move kafkajs also goes on committing to the coordinator of its last join: every commit is refused
 * (NOT_COORDINATOR) until a new join, which nothing brings about. The second test refuses the commits of one
 * generation the same way: the member must restart its client (a new join, a new generation) and commit again.
 */
import { createRequire } from 'node:module';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConsumerEvents } from '../../../consumers/events.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';

const require = createRequire(import.meta.url);
type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>;
const OffsetManager = require('kafkajs/src/consumer/offsetManager/index.js') as { prototype: Record<'commitOffsets', Method> };
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: Record<'heartbeat' | 'joinAndSync', Method> };
const { KafkaJSProtocolError } = require('kafkajs/src/errors.js') as { KafkaJSProtocolError: new (error: unknown) => Error };
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => unknown };

const notCoordinator = 16;
const groupLoadInProgress = 14;

/** The next call of `method` on any kafkajs ConsumerGroup fails with the broker error `code`; later calls are untouched. */
function failNextCall(method: 'heartbeat' | 'joinAndSync', code: number): { fired: () => boolean } {
  const original = ConsumerGroup.prototype[method];
  let fired = false;
  ConsumerGroup.prototype[method] = async function (this: unknown, ...args: unknown[]) {
    if (!fired) {
      fired = true;
      throw new KafkaJSProtocolError(createErrorFromCode(code));
    }
    return original.apply(this, args);
  };
  onTestFinished(() => void (ConsumerGroup.prototype[method] = original));
  return { fired: () => fired };
}

describe('OrderedConsumer: a rejoin the Kafka client abandons', () => {
  it('goes on consuming in the previous generation, loudly (event, metric state), instead of waiting for a join that never comes', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'rejoin-failed' });
    const groupId = testGroupId();
    let handled = 0;
    const resumed: ConsumerEvents['consumer.group.resumed'][0][] = [];
    const consumer = startTestConsumer({ groupId, topics: [topic], handler: async () => void handled++ });
    consumer.events.on('consumer.group.resumed', (event) => resumed.push(event));
    const instrumentation = instrumentConsumer(consumer, { groupId, metrics: new OrderlyMetrics({ processMetrics: false }) });
    onTestFinished(() => instrumentation.detach());
    await consumer.start();
    await produce(topic, sequencedEvents(20, 4));
    await eventually(() => handled === 20, () => `${handled} of 20 handled before the fault`, 60_000);

    const rebalancing = new Promise<void>((resolve) => consumer.events.once('consumer.group.rebalancing', () => resolve()));
    const join = failNextCall('joinAndSync', groupLoadInProgress);
    const heartbeat = failNextCall('heartbeat', notCoordinator);
    await rebalancing;
    await eventually(() => join.fired(), () => 'the rejoin was never tried', 30_000);
    expect(heartbeat.fired()).toBe(true);

    await produce(topic, sequencedEvents(20, 4).map((message) => ({ ...message, headers: { 'orderly-event-id': `after-${String(message.headers!['orderly-event-id'])}` } })));
    await eventually(() => handled === 40, () => `${handled} of 40 handled: the member waits for a join kafkajs gave up`, 30_000);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ groupId, epoch: 1 });
    expect(instrumentation.state()).toBe('joined');
  });

  it('restarts its client, loudly, when every commit of a generation is refused by a coordinator that is no longer one', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'stale-coordinator' });
    const groupId = testGroupId();
    // The generation whose commits go to the old coordinator: the first one to commit after arming.
    let staleGeneration: number | undefined;
    let refused = 0;
    const original = OffsetManager.prototype.commitOffsets;
    OffsetManager.prototype.commitOffsets = async function (this: unknown, ...args: unknown[]) {
      const { generationId } = this as { generationId: number };
      staleGeneration ??= generationId;
      if (generationId === staleGeneration) {
        refused++;
        throw new KafkaJSProtocolError(createErrorFromCode(notCoordinator));
      }
      return original.apply(this, args);
    };
    onTestFinished(() => void (OffsetManager.prototype.commitOffsets = original));
    let handled = 0;
    const stalls: ConsumerEvents['consumer.client.stalled'][0][] = [];
    // Commit stalls count after half of clientStallTimeoutMs: 10 s here.
    const consumer = startTestConsumer({ groupId, topics: [topic], clientStallTimeoutMs: 20_000, handler: async () => void handled++ });
    consumer.events.on('consumer.client.stalled', (stall) => stalls.push(stall));
    await consumer.start();
    await produce(topic, sequencedEvents(20, 4));
    await eventually(() => handled === 20, () => `${handled} of 20 handled`, 60_000);
    await eventually(() => stalls.length > 0, () => `no stall reported after ${refused} refused commits`, 40_000);
    expect(stalls[0]).toMatchObject({ groupId, reason: 'commit', restart: 'member' });
    expect(stalls[0]!.stalledForMs).toBeGreaterThanOrEqual(10_000);
    expect(consumer.health().reasons.join('\n')).toMatch(/stalled \(CLIENT_STALLED: every commit for \d+ ms refused by a group coordinator that is no longer one/);
    const admin = await testAdmin();
    const committedToTheEnd = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      return ends.every(({ partition, high }) => offsets!.partitions.find((entry) => entry.partition === partition)?.offset === high);
    };
    const deadline = Date.now() + 60_000;
    while (!(await committedToTheEnd())) {
      if (Date.now() > deadline) throw new Error(`offsets not committed to the end after the restart (${refused} commits refused)`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(consumer.health()).toEqual({ ready: true, reasons: [] });
    expect(handled).toBeGreaterThanOrEqual(20);
  });
});

