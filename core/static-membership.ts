/**
 * Static consumer-group membership (KIP-345, Kafka's `group.instance.id`) for one kafkajs 2.2.4 consumer.
 *
 * kafkajs encodes the instance id in its protocol layer (JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup
 * v3 take `groupInstanceId`) but its Broker never passes it, and its consumer has no option for it. This module
 * adds it for one consumer only, without touching kafkajs's files:
 * - kafkajs builds a private cluster (with its own brokers) for every consumer; {@link createStaticMemberConsumer}
 *   catches the one built for this consumer, and every group coordinator that cluster hands out gets a
 *   `lookupRequest` that adds the instance id to those four requests. The requests themselves are kafkajs's.
 * - a LeaveGroup is sent only when {@link StaticMembership.leavesGroup} says so: a static member that closes
 *   without leaving keeps its partitions, unconsumed, until it comes back (no rebalance) or its session times out.
 * A broker older than Kafka 2.3 (JoinGroup below v5) would drop the id silently: the join fails instead, with an
 * `OrderlyError` of code `CONFIGURATION`. OffsetCommit is sent without the instance id (kafkajs stops at v5,
 * the field came in v7): the broker accepts a commit from the member id and generation of a current member.
 */
import { createRequire } from 'node:module';
import { OrderlyError } from './errors.ts';

const require = createRequire(import.meta.url);

/** How one consumer takes part in its group as a static member. */
export interface StaticMembership {
  /** Kafka's `group.instance.id`: the same for a member and whatever replaces it, unique among live members. */
  groupInstanceId: string;
  /**
   * Asked each time the Kafka client leaves the group (its stop, its disconnect, its crash): `false` sends no
   * LeaveGroup, so the member keeps its place (and partitions) for a successor with the same instance id.
   */
  leavesGroup(): boolean;
}

type Lookup = (apiKey: number, definition: unknown) => (request: Record<string, unknown>) => unknown;

interface BrokerLike {
  lookupRequest: Lookup;
  versions?: Record<number, { maxVersion?: number } | undefined> | null;
  brokerAddress?: string;
  leaveGroup(request: Record<string, unknown>): Promise<unknown>;
}

interface ClusterLike {
  findGroupCoordinator(request: Record<string, unknown>): Promise<BrokerLike>;
}

const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as Record<'JoinGroup' | 'SyncGroup' | 'Heartbeat' | 'LeaveGroup', number>;

/** The group requests that carry the instance id, and the first version of each that has the field. */
export const staticMembershipRequests = new Map<number, { name: string; minVersion: number }>([
  [apiKeys.JoinGroup, { name: 'JoinGroup', minVersion: 5 }],
  [apiKeys.SyncGroup, { name: 'SyncGroup', minVersion: 3 }],
  [apiKeys.Heartbeat, { name: 'Heartbeat', minVersion: 3 }],
  [apiKeys.LeaveGroup, { name: 'LeaveGroup', minVersion: 3 }],
]);

const createClusterDescription = 'private:Kafka:createCluster';
const staticBrokers = new WeakSet<object>();

/**
 * Creates a consumer through `create` (which must call `kafka.consumer(...)` once, synchronously) and makes it a
 * static member: see the module comment.
 */
export function createStaticMemberConsumer<C>(kafka: object, create: () => C, membership: StaticMembership): C {
  const key = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === createClusterDescription);
  const holder = kafka as Record<symbol, (options: unknown) => ClusterLike>;
  if (key === undefined || typeof holder[key] !== 'function') throw new Error(`static membership: this kafkajs has no ${createClusterDescription} (Orderly supports kafkajs 2.2.4)`);
  const createCluster = holder[key];
  const clusters: ClusterLike[] = [];
  holder[key] = (options: unknown) => {
    const cluster = createCluster(options);
    clusters.push(cluster);
    return cluster;
  };
  let consumer: C;
  try {
    consumer = create();
  } finally {
    holder[key] = createCluster;
  }
  if (clusters.length !== 1) throw new Error(`static membership: expected the consumer to build one cluster, it built ${clusters.length}`);
  staticMemberCluster(clusters[0]!, membership);
  return consumer;
}

/** Every group coordinator `cluster` hands out sends `membership`'s instance id. */
export function staticMemberCluster(cluster: ClusterLike, membership: StaticMembership): void {
  const findGroupCoordinator = cluster.findGroupCoordinator.bind(cluster);
  cluster.findGroupCoordinator = async (request) => staticMemberBroker(await findGroupCoordinator(request), membership);
}

/** Makes `broker`'s JoinGroup, SyncGroup, Heartbeat and LeaveGroup carry the instance id (once per broker). */
export function staticMemberBroker<B extends BrokerLike>(broker: B, membership: StaticMembership): B {
  if (staticBrokers.has(broker)) return broker;
  staticBrokers.add(broker);
  const { groupInstanceId } = membership;
  // kafkajs sets `lookupRequest` on each connect, from the versions the broker announced: kept behind an accessor.
  let lookup = broker.lookupRequest;
  const withInstanceId: Lookup = (apiKey, definition) => {
    const build = lookup(apiKey, definition);
    const request = staticMembershipRequests.get(apiKey);
    if (request === undefined) return build;
    const maxVersion = broker.versions?.[apiKey]?.maxVersion ?? -1;
    if (maxVersion < request.minVersion) {
      throw new OrderlyError(
        'CONFIGURATION',
        `groupInstanceId "${groupInstanceId}": the broker${broker.brokerAddress ? ` at ${broker.brokerAddress}` : ''} supports ${request.name} up to v${maxVersion}, ` +
          `and static membership needs v${request.minVersion} (Kafka 2.3 or later); unset groupInstanceId for this cluster`,
        { retriable: false },
      );
    }
    return (fields) => build({ ...fields, groupInstanceId });
  };
  Object.defineProperty(broker, 'lookupRequest', {
    configurable: true,
    enumerable: true,
    get: () => withInstanceId,
    set: (value: Lookup) => void (lookup = value),
  });
  const leaveGroup = broker.leaveGroup.bind(broker);
  broker.leaveGroup = (request) => (membership.leavesGroup() ? leaveGroup(request) : Promise.resolve({ errorCode: 0, members: [] }));
  return broker;
}
