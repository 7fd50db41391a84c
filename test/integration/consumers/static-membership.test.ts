/**
 * Static group membership (`groupInstanceId`) on the real broker, members in this process (the SIGKILL case is in
 * crash-and-rebalance.test.ts): a second live member with the same id fences the first, which stops loudly and
 * for good; a restart of the Kafka client by the liveness watch takes the old client's place without a
 * rebalance; `stop()` leaves the group only with `leaveGroupOnStop`.
 */
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConsumerEvents } from '../../../consumers/events.ts';
import { startObservabilityServer } from '../../../observability/http.ts';
import { instrumentConsumer } from '../../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../../observability/metrics.ts';
import { eventually, produce, sequencedEvents, startTestConsumer } from '../../support/consumer-harness.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';

const require = createRequire(import.meta.url);
type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>;
const OffsetManager = require('kafkajs/src/consumer/offsetManager/index.js') as { prototype: Record<'commitOffsets', Method> };
const { KafkaJSProtocolError } = require('kafkajs/src/errors.js') as { KafkaJSProtocolError: new (error: unknown) => Error };
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => unknown };
const notCoordinator = 16;

type Joined = ConsumerEvents['consumer.group.joined'][0];

/** The group events of one consumer, in order. */
function groupEventsOf(consumer: ReturnType<typeof startTestConsumer>) {
  const events: ({ event: 'joined' } & Joined | { event: 'rebalancing' })[] = [];
  consumer.events.on('consumer.group.joined', (joined) => events.push({ event: 'joined', ...joined }));
  consumer.events.on('consumer.group.rebalancing', () => events.push({ event: 'rebalancing' }));
  const joins = () => events.filter((event): event is { event: 'joined' } & Joined => event.event === 'joined');
  return { events, joins, partitions: (topic: string) => [...(joins().at(-1)?.assignment[topic] ?? [])].sort((a, b) => a - b) };
}

/** A logger whose lines are kept, parsed. */
function capturedLogger() {
  const lines: { level: number; msg: string; [field: string]: unknown }[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) }), lines };
}

describe('OrderedConsumer static membership: two live members with one groupInstanceId', () => {
  it('the older one is fenced: an error line, consumer.client.crashed (FENCED_INSTANCE_ID, no restart), /readyz 503, whenStopped() rejects with INSTANCE_FENCED; the newer one consumes on, and no rebalance ping-pong follows', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'static-fenced' });
    const groupId = testGroupId();
    const groupInstanceId = `${groupId}-worker-1`;
    const seen = new Set<string>();
    const handler = async (event: { eventId: string }) => void seen.add(event.eventId);
    const { logger, lines } = capturedLogger();
    const older = startTestConsumer({ groupId, groupInstanceId, topics: [topic], handler, logger });
    const olderCrashes: ConsumerEvents['consumer.client.crashed'][0][] = [];
    older.events.on('consumer.client.crashed', (crash) => olderCrashes.push(crash));
    const metrics = new OrderlyMetrics({ processMetrics: false });
    const instrumentation = instrumentConsumer(older, { groupId, metrics });
    const server = await startObservabilityServer({ port: 0, host: '127.0.0.1', metrics, readiness: [instrumentation] });
    onTestFinished(async () => {
      instrumentation.detach();
      await server.stop();
    });
    await older.start();
    await produce(topic, sequencedEvents(20, 4));
    await eventually(() => seen.size === 20, () => `${seen.size} of 20 handled by the older member`, 60_000);
    expect((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status).toBe(200);

    const newer = startTestConsumer({ groupId, groupInstanceId, topics: [topic], handler });
    const newerGroup = groupEventsOf(newer);
    const newerCrashes: unknown[] = [];
    newer.events.on('consumer.client.crashed', (crash) => newerCrashes.push(crash));
    await newer.start();

    await expect(older.whenStopped()).rejects.toMatchObject({ code: 'INSTANCE_FENCED', message: expect.stringContaining(`groupInstanceId "${groupInstanceId}"`) as unknown });
    expect(olderCrashes).toEqual([{ groupId, errorType: 'FENCED_INSTANCE_ID', restart: 'none' }]);
    const fencedLine = lines.find((line) => line.level === 50 && /no restart can help: fenced/.test(line.msg));
    expect(fencedLine).toMatchObject({ errorType: 'FENCED_INSTANCE_ID', groupInstanceId });
    const readyz = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { reasons: string[] }).reasons.join('\n')).toMatch(/FENCED_INSTANCE_ID.*fenced: another consumer joined group .* with groupInstanceId/);

    await produce(topic, sequencedEvents(20, 4).map((message) => ({ ...message, headers: { 'orderly-event-id': `after-${String(message.headers!['orderly-event-id'])}` } })));
    await eventually(() => seen.size === 40, () => `${seen.size} of 40 handled: the newer member should consume after the fencing`, 60_000);
    // The fenced member is gone for good: it did not rejoin (which would fence the newer one in turn).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(olderCrashes).toHaveLength(1);
    expect(newerCrashes).toEqual([]);
    expect(newerGroup.events.filter((event) => event.event === 'rebalancing')).toEqual([]);
    expect(newerGroup.partitions(topic)).toEqual([0, 1]);
    expect(newer.health()).toEqual({ ready: true, reasons: [] });
  });
});

describe('OrderedConsumer static membership: the liveness watch restarts the Kafka client', () => {
  it('the new client takes the old one\'s place with the same partitions: no FENCED crash, the other member sees no rebalance, commits reach the end', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'static-restart' });
    const groupId = testGroupId();
    const stalledId = `${groupId}-worker-1`;
    // Every commit of the first client of the member under test is refused as NOT_COORDINATOR (its coordinator
    // moved, as in rejoin-failed.test.ts): the watch must restart that client. A static member's id starts with its instance id.
    let refusedMemberId: string | undefined;
    let refused = 0;
    const original = OffsetManager.prototype.commitOffsets;
    OffsetManager.prototype.commitOffsets = async function (this: unknown, ...args: unknown[]) {
      const { memberId } = this as { memberId: string };
      if (memberId.startsWith(stalledId)) refusedMemberId ??= memberId;
      if (memberId === refusedMemberId) {
        refused++;
        throw new KafkaJSProtocolError(createErrorFromCode(notCoordinator));
      }
      return original.apply(this, args);
    };
    onTestFinished(() => void (OffsetManager.prototype.commitOffsets = original));

    let handled = 0;
    const handler = async () => void handled++;
    const other = startTestConsumer({ groupId, groupInstanceId: `${groupId}-worker-2`, topics: [topic], handler });
    const otherGroup = groupEventsOf(other);
    await other.start();
    await eventually(() => otherGroup.partitions(topic).length === 2, () => 'the other member joined alone', 60_000);
    // Commit stalls count after half of clientStallTimeoutMs: 10 s here.
    const stalling = startTestConsumer({ groupId, groupInstanceId: stalledId, topics: [topic], handler, clientStallTimeoutMs: 20_000 });
    const stallingGroup = groupEventsOf(stalling);
    const stalls: ConsumerEvents['consumer.client.stalled'][0][] = [];
    stalling.events.on('consumer.client.stalled', (stall) => stalls.push(stall));
    const crashes: unknown[] = [];
    stalling.events.on('consumer.client.crashed', (crash) => crashes.push(crash));
    await stalling.start();
    await eventually(() => stallingGroup.partitions(topic).length === 1 && otherGroup.partitions(topic).length === 1, () => 'the two members share the partitions', 60_000);
    const otherEventsBefore = otherGroup.events.length;
    const partitionsBefore = stallingGroup.partitions(topic);

    await produce(topic, sequencedEvents(40, 8));
    await eventually(() => handled >= 40, () => `${handled} of 40 handled`, 60_000);
    await eventually(() => stalls.length > 0, () => `no stall reported after ${refused} refused commits`, 40_000);
    expect(stalls[0]).toMatchObject({ groupId, reason: 'commit', restart: 'member' });
    await eventually(() => stallingGroup.joins().length === 2, () => `the restarted client has not joined (${stallingGroup.joins().length} joins)`, 60_000);

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
    expect(stallingGroup.partitions(topic)).toEqual(partitionsBefore);
    expect(crashes).toEqual([]);
    expect(stalling.health()).toEqual({ ready: true, reasons: [] });
    // The restart neither left the group nor rebalanced it: the other member's last event is still its join.
    expect(otherGroup.events).toHaveLength(otherEventsBefore);
  });
});

describe('OrderedConsumer static membership: stop()', () => {
  it('keeps the member in the group by default (its successor takes its partitions, no rebalance); leaves it with leaveGroupOnStop', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'static-stop' });
    const groupId = testGroupId();
    const handler = async () => undefined;
    const admin = await testAdmin();
    const memberIds = async () => {
      const { groups } = await admin.describeGroups([groupId]);
      return groups[0]!.members.map((member) => member.memberId);
    };
    // The group keeps a stopped static member for its session timeout: long enough that it is still there when asked.
    const staying = startTestConsumer({ groupId, groupInstanceId: `${groupId}-staying`, sessionTimeoutMs: 60_000, heartbeatIntervalMs: 1_000, topics: [topic], handler });
    const stayingGroup = groupEventsOf(staying);
    await staying.start();
    await eventually(() => stayingGroup.partitions(topic).length === 2, () => 'the first member joined alone', 60_000);
    const leaving = startTestConsumer({ groupId, groupInstanceId: `${groupId}-leaving`, leaveGroupOnStop: true, topics: [topic], handler });
    const leavingGroup = groupEventsOf(leaving);
    await leaving.start();
    await eventually(() => stayingGroup.partitions(topic).length === 1 && leavingGroup.partitions(topic).length === 1, () => 'the two members share the partitions', 60_000);

    await leaving.stop();
    expect((await memberIds()).filter((id) => id.startsWith(`${groupId}-leaving`))).toEqual([]);
    await eventually(() => stayingGroup.partitions(topic).length === 2, () => 'the partitions of the member that left moved to the other', 60_000);

    const joinsBefore = stayingGroup.joins().length;
    await staying.stop();
    expect((await memberIds()).filter((id) => id.startsWith(`${groupId}-staying`))).toHaveLength(1);
    // Its successor, with the same instance id, takes its place and both its partitions.
    const successor = startTestConsumer({ groupId, groupInstanceId: `${groupId}-staying`, sessionTimeoutMs: 60_000, heartbeatIntervalMs: 1_000, topics: [topic], handler });
    const successorGroup = groupEventsOf(successor);
    await successor.start();
    await eventually(() => successorGroup.joins().length === 1, () => 'the successor joined', 60_000);
    expect(successorGroup.partitions(topic)).toEqual([0, 1]);
    expect(stayingGroup.joins()).toHaveLength(joinsBefore);
    const members = await memberIds();
    expect(members).toHaveLength(1);
    expect(members[0]!.startsWith(`${groupId}-staying`)).toBe(true);
  });
});
