/**
 * The stack in Docker, for machines with a Docker engine: Kafka (KRaft, apache/kafka), Confluent's own
 * schema registry, Redis with AOF and PostgreSQL, through testcontainers. Host ports are chosen first so the
 * broker can advertise the address clients reach it on: the container runtime's host (testcontainers knows it:
 * `localhost` for a local engine, the remote host for DOCKER_HOST=tcp://..., the VM for Colima) and that port.
 */
import { GenericContainer, getContainerRuntimeClient, Network, Wait, type StartedTestContainer } from 'testcontainers';
import { spawnSync } from 'node:child_process';
import { choosePort } from '../../infra/stack/free-port.ts';
import type { StackSettings } from '../../infra/stack/stack-settings.ts';

export function dockerEngineAnswers(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/**
 * The broker's environment: clients outside Docker are told `host:port` (the runtime's host and the published
 * port); the registry, inside the network, uses `kafka:29092`.
 */
export function kafkaContainerEnvironment(host: string, port: number): Record<string, string> {
  return {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,INTERNAL://0.0.0.0:29092,CONTROLLER://0.0.0.0:9093',
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},INTERNAL://kafka:29092`,
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
  };
}

export async function startTestcontainersStack(): Promise<{ settings: StackSettings; stop: () => Promise<void> }> {
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const network = await new Network().start();
  const kafkaPort = await choosePort(29092);
  const kafka = await new GenericContainer('apache/kafka:4.2.1')
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .withEnvironment(kafkaContainerEnvironment(host, kafkaPort))
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('confluentinc/cp-schema-registry:7.9.0')
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:29092',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  const redis = await new GenericContainer('redis:7.4')
    .withCommand(['redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec'])
    .withExposedPorts(6379)
    .start();
  const postgres = await new GenericContainer('postgres:17')
    .withEnvironment({ POSTGRES_PASSWORD: 'orderly', POSTGRES_DB: 'test' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const containers: StartedTestContainer[] = [postgres, redis, registry, kafka];
  return {
    settings: {
      KAFKA_BROKERS: `${host}:${kafkaPort}`,
      SCHEMA_REGISTRY_URL: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
      REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      DATABASE_URL: `postgres://postgres:orderly@${postgres.getHost()}:${postgres.getMappedPort(5432)}/test`,
    },
    stop: async () => {
      for (const container of containers) await container.stop();
      await network.stop();
    },
  };
}
