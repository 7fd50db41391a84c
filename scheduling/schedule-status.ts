/**
 * What `orderly cron list` shows: every schedule found on the schedule topic with its last slot (from its
 * state record), its next slot (from its expression, after now and after the last slot), its leader (the
 * latest claim) and the members of its leadership group as the broker sees them now.
 */
import { randomBytes } from 'node:crypto';
import { OrderlyError } from '../core/errors.ts';
import type { Admin, Kafka } from '../core/kafka-client.ts';
import { CronSchedule } from './cron-schedule.ts';
import { leadershipGroupOf } from './schedule-leadership.ts';
import { parseScheduleRecord, type ScheduleClaim, type ScheduleState } from './schedule-records.ts';

export interface ScheduleSummary {
  schedule: string;
  expression: string;
  timezone: string;
  topic: string;
  /** ISO-8601 UTC, absent before the first tick. */
  lastSlot?: string;
  /** ISO-8601 UTC, absent when the expression has no further slot (or cannot be read). */
  nextSlot?: string;
  /** The instance of the latest claim. */
  leader?: string;
  leaderSince?: string;
  /** Members of the leadership group now (0: no instance runs the schedule). */
  members: number;
}

/** Reads the whole schedule topic (read_committed) and summarises each schedule. */
export async function listSchedules(kafka: Kafka, admin: Admin, scheduleTopic: string, options: { timeoutMs?: number; now?: number } = {}): Promise<ScheduleSummary[]> {
  if (!(await admin.listTopics()).includes(scheduleTopic)) {
    throw new OrderlyError('CONFIGURATION', `the schedule topic ${scheduleTopic} does not exist: create it with \`orderly cron init --schedule-topic ${scheduleTopic}\` (or name the right one with --schedule-topic)`, { retriable: false });
  }
  const states = new Map<string, ScheduleState>();
  const claims = new Map<string, ScheduleClaim>();
  await readTopic(kafka, admin, scheduleTopic, options.timeoutMs ?? 15_000, (value) => {
    const record = parseScheduleRecord(value);
    if (record?.kind === 'state') {
      const known = states.get(record.schedule);
      if (!known || Date.parse(record.lastSlot) >= Date.parse(known.lastSlot)) states.set(record.schedule, record);
    } else if (record?.kind === 'claim') claims.set(record.schedule, record);
  });
  const names = [...new Set([...states.keys(), ...claims.keys()])].sort();
  const groups = names.length === 0 ? [] : (await admin.describeGroups(names.map(leadershipGroupOf))).groups;
  const now = options.now ?? Date.now();
  return names.map((schedule) => {
    const state = states.get(schedule);
    const claim = claims.get(schedule);
    const expression = state?.expression ?? claim!.expression;
    const timezone = state?.timezone ?? claim!.timezone;
    let nextSlot: string | undefined;
    try {
      const next = new CronSchedule(expression, timezone).nextSlotAfter(Math.max(now, state ? Date.parse(state.lastSlot) : now));
      if (next !== undefined) nextSlot = new Date(next).toISOString();
    } catch {
      nextSlot = undefined;
    }
    const group = groups.find((candidate) => candidate.groupId === leadershipGroupOf(schedule));
    return {
      schedule,
      expression,
      timezone,
      topic: state?.topic ?? claim!.topic,
      ...(state ? { lastSlot: state.lastSlot } : {}),
      ...(nextSlot ? { nextSlot } : {}),
      ...(claim ? { leader: claim.instance, leaderSince: claim.claimedAt } : {}),
      members: group?.members.length ?? 0,
    };
  });
}

/** Reads partition 0 of `topic` from the beginning to its end (committed records only), through a throwaway group that commits nothing. */
async function readTopic(kafka: Kafka, admin: Admin, topic: string, timeoutMs: number, onValue: (value: Buffer | null) => void): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const end = offsets.find((entry) => entry.partition === 0);
  if (!end || end.high === end.low) return;
  const consumer = kafka.consumer({ groupId: `orderly-cron-list-${randomBytes(6).toString('hex')}`, readUncommitted: false, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not read ${topic} to its end within ${timeoutMs} ms`)), timeoutMs);
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (BigInt(payload.lastOffset) + 1n >= BigInt(end.high)) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) onValue(message.value);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
