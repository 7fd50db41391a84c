/**
 * Helpers for integration tests: the provided stack settings, clients for it, and a unique topic and group
 * per test that are cleaned up when the test ends (platformatic's `createConsumer(t)`, BullMQ's random names).
 */
import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import { createKafkaClient, type Admin, type Kafka } from '../../core/kafka-client.ts';
import type { TestStack } from './stack-kind.ts';
import './stack-kind.ts';

export function testStack(): TestStack {
  return inject('stack');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function testKafka(clientId = uniqueName('test-client')): Kafka {
  return createKafkaClient({ brokers: testStack().settings.KAFKA_BROKERS.split(','), clientId });
}

/** An admin client, disconnected when the test ends. */
export async function testAdmin(): Promise<Admin> {
  const admin = testKafka().admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

/** Creates a unique topic for this test and deletes it when the test ends. */
export async function createTestTopic({ partitions = 1, prefix = 'test' } = {}): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = testKafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  onTestFinished(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });
  return topic;
}

export function testGroupId(): string {
  return uniqueName('test-group');
}
