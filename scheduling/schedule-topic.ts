/**
 * The schedule topic is created on purpose, never on first use: {@link createScheduleTopic} makes it (one
 * partition, compacted, small segments so compaction keeps it short), {@link requireScheduleTopics} checks it
 * and the tick topic before a scheduler starts, with the command that fixes what is missing.
 */
import { OrderlyError } from '../core/errors.ts';
import type { Admin } from '../core/kafka-client.ts';

/** The settings of a schedule topic: compaction keeps the last state and claim of each schedule. */
export const scheduleTopicConfig = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'segment.ms', value: String(10 * 60_000) },
  { name: 'min.cleanable.dirty.ratio', value: '0.1' },
  { name: 'delete.retention.ms', value: String(60 * 60_000) },
] as const;

/** Creates the schedule topic when missing; true when it created it. */
export async function createScheduleTopic(admin: Admin, topic: string, replicationFactor?: number): Promise<boolean> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  return admin.createTopics({
    topics: [{ topic, numPartitions: 1, ...(replicationFactor ? { replicationFactor } : {}), configEntries: scheduleTopicConfig.map((entry) => ({ ...entry })) }],
    waitForLeaders: true,
  });
}

/** Throws a clear error when the tick topic or the schedule topic is missing, or the schedule topic has more than one partition. */
export async function requireScheduleTopics(admin: Admin, scheduleTopic: string, tickTopic: string): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const problems: string[] = [];
  if (!existing.has(scheduleTopic)) problems.push(`the schedule topic ${scheduleTopic} does not exist: create it with \`orderly cron init --schedule-topic ${scheduleTopic}\``);
  if (!existing.has(tickTopic)) problems.push(`the tick topic ${tickTopic} does not exist: create it with \`orderly topics create ${tickTopic} --group <consumer group> --partitions <n>\``);
  if (problems.length > 0) throw new OrderlyError('CONFIGURATION', problems.join('; '), { retriable: false });
  const partitions = (await admin.fetchTopicMetadata({ topics: [scheduleTopic] })).topics[0]!.partitions.length;
  if (partitions !== 1) {
    throw new OrderlyError('CONFIGURATION', `the schedule topic ${scheduleTopic} has ${partitions} partitions: it needs exactly one (its partition 0 decides the leader)`, { retriable: false });
  }
}
