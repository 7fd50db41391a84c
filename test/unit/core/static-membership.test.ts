/**
 * Static membership at the Kafka client seam, against kafkajs 2.2.4's own request definitions and Kafka client:
 * the instance id goes into JoinGroup, SyncGroup, Heartbeat and LeaveGroup only, a broker too old for it is refused
 * loudly, a LeaveGroup is sent only when asked, and the kafkajs internals this relies on are still there.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createGroupConsumer, createKafkaClient, isFencedInstanceError } from '../../../core/kafka-client.ts';
import { OrderlyError } from '../../../core/errors.ts';
import { staticMemberBroker, staticMemberCluster, staticMembershipRequests } from '../../../core/static-membership.ts';

const require = createRequire(import.meta.url);
type Build = (fields: Record<string, unknown>) => { request: { apiVersion: number; encode(): Promise<{ buffer: Buffer }> } };
type Lookup = (apiKey: number, definition: unknown) => Build;
const { requests, lookup } = require('kafkajs/src/protocol/requests/index.js') as { requests: Record<string, unknown>; lookup: (versions: object) => Lookup };
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>;
const { KafkaJSProtocolError, KafkaJSNonRetriableError } = require('kafkajs/src/errors.js') as { KafkaJSProtocolError: new (error: unknown) => Error; KafkaJSNonRetriableError: new (error: Error, options: object) => Error };
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => unknown };

/** The versions a Kafka 4 broker announces for the group APIs (and a few others), or older ones. */
function versionsUpTo(maxVersion: number) {
  return Object.fromEntries(Object.values(apiKeys).map((apiKey) => [apiKey, { minVersion: 0, maxVersion }]));
}

function fakeBroker(maxVersion = 9) {
  const sent: string[] = [];
  const versions = versionsUpTo(maxVersion);
  const broker = {
    versions,
    brokerAddress: '127.0.0.1:9092',
    lookupRequest: lookup(versions),
    leaveGroup: async (request: Record<string, unknown>) => {
      sent.push(`leave ${String(request.memberId)}`);
      return { errorCode: 0 };
    },
  };
  return { broker, sent };
}

const requestFields: Record<string, Record<string, unknown>> = {
  JoinGroup: { groupId: 'g', sessionTimeout: 10_000, rebalanceTimeout: 10_000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'p', metadata: Buffer.alloc(0) }] },
  SyncGroup: { groupId: 'g', generationId: 1, memberId: 'm', groupAssignment: [] },
  Heartbeat: { groupId: 'g', groupGenerationId: 1, memberId: 'm' },
  LeaveGroup: { groupId: 'g', memberId: 'm' },
  OffsetCommit: { groupId: 'g', groupGenerationId: 1, memberId: 'm', topics: [] },
};

async function encoded(broker: { lookupRequest: Lookup }, name: string): Promise<{ apiVersion: number; bytes: Buffer }> {
  const { request } = broker.lookupRequest(apiKeys[name]!, requests[name])(requestFields[name]!);
  return { apiVersion: request.apiVersion, bytes: (await request.encode()).buffer };
}

const membership = (leaves = false) => ({ groupInstanceId: 'orders-worker-3', leavesGroup: () => leaves });

describe('static membership: the group requests', () => {
  it('JoinGroup v5, SyncGroup v3, Heartbeat v3 and LeaveGroup v3 carry the instance id; other requests are untouched', async () => {
    const { broker } = fakeBroker();
    staticMemberBroker(broker, membership());
    for (const name of ['JoinGroup', 'SyncGroup', 'Heartbeat', 'LeaveGroup']) {
      const { apiVersion, bytes } = await encoded(broker, name);
      expect(apiVersion).toBeGreaterThanOrEqual(staticMembershipRequests.get(apiKeys[name]!)!.minVersion);
      expect(bytes.includes(Buffer.from('orders-worker-3')), name).toBe(true);
    }
    const commit = await encoded(broker, 'OffsetCommit');
    expect(commit.bytes.includes(Buffer.from('orders-worker-3'))).toBe(false);
  });

  it('keeps doing so after kafkajs sets lookupRequest again (each connect)', async () => {
    const { broker } = fakeBroker();
    staticMemberBroker(broker, membership());
    broker.lookupRequest = lookup(versionsUpTo(9));
    expect((await encoded(broker, 'JoinGroup')).bytes.includes(Buffer.from('orders-worker-3'))).toBe(true);
    // Installed once: a second call changes nothing.
    expect(staticMemberBroker(broker, membership())).toBe(broker);
    expect((await encoded(broker, 'Heartbeat')).bytes.includes(Buffer.from('orders-worker-3'))).toBe(true);
  });

  it('a broker without the versions that carry the id (before Kafka 2.3) is refused with CONFIGURATION, never the id dropped', async () => {
    const { broker } = fakeBroker(4);
    staticMemberBroker(broker, membership());
    let thrown: unknown;
    try {
      await encoded(broker, 'JoinGroup');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(OrderlyError);
    expect(thrown).toMatchObject({ code: 'CONFIGURATION', retriable: false, message: expect.stringMatching(/supports JoinGroup up to v4, and static membership needs v5/) as unknown });
    // Requests that do not carry the id still go.
    expect((await encoded(broker, 'OffsetCommit')).apiVersion).toBeLessThanOrEqual(4);
  });

  it('sends a LeaveGroup only when the member says it leaves', async () => {
    let leaves = false;
    const { broker, sent } = fakeBroker();
    staticMemberBroker(broker, { groupInstanceId: 'a', leavesGroup: () => leaves });
    await broker.leaveGroup({ groupId: 'g', memberId: 'm1' });
    expect(sent).toEqual([]);
    leaves = true;
    await broker.leaveGroup({ groupId: 'g', memberId: 'm2' });
    expect(sent).toEqual(['leave m2']);
  });

  it('every coordinator the cluster hands out is a static member', async () => {
    const { broker } = fakeBroker();
    const cluster = { findGroupCoordinator: async () => broker };
    staticMemberCluster(cluster as never, membership());
    const coordinator = await cluster.findGroupCoordinator();
    expect((await encoded(coordinator, 'SyncGroup')).bytes.includes(Buffer.from('orders-worker-3'))).toBe(true);
  });
});

describe('static membership: the kafkajs consumer', () => {
  it('builds the consumer with one cluster of its own, caught and restored on this kafkajs', () => {
    const kafka = createKafkaClient({ brokers: ['127.0.0.1:1'] });
    const symbols = Object.getOwnPropertySymbols(kafka).map((symbol) => symbol.description);
    expect(symbols).toContain('private:Kafka:createCluster');
    const before = Object.getOwnPropertySymbols(kafka).map((symbol) => (kafka as unknown as Record<symbol, unknown>)[symbol]);
    const consumer = createGroupConsumer(kafka, { groupId: 'g' }, membership());
    expect(typeof consumer.run).toBe('function');
    expect(Object.getOwnPropertySymbols(kafka).map((symbol) => (kafka as unknown as Record<symbol, unknown>)[symbol])).toEqual(before);
    // A dynamic consumer is kafkajs's own.
    expect(typeof createGroupConsumer(kafka, { groupId: 'g' }).run).toBe('function');
  });

  it('tells a fenced member from other errors, also wrapped as kafkajs wraps it after its retries', () => {
    const fenced = new KafkaJSProtocolError(createErrorFromCode(82));
    expect(isFencedInstanceError(fenced)).toBe(true);
    expect(isFencedInstanceError(new KafkaJSNonRetriableError(fenced, { cause: fenced }))).toBe(true);
    expect(isFencedInstanceError(new KafkaJSProtocolError(createErrorFromCode(25)))).toBe(false);
    expect(isFencedInstanceError(undefined)).toBe(false);
  });
});
