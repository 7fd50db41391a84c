/**
 * Scheduling: cron schedules run by one leader among any number of instances, one tick per slot, fenced
 * through Kafka transactions (docs/scheduling.md).
 */
export * from './cron-schedule.ts';
export * from './missed-slots.ts';
export * from './options.ts';
export * from './scheduler.ts';
export * from './scheduler-events.ts';
export * from './tick-event.ts';
export * from './schedule-records.ts';
export * from './schedule-topic.ts';
export * from './schedule-status.ts';
export { transactionalIdOf, isFencedError } from './fenced-tick-publisher.ts';
export { leadershipGroupOf } from './schedule-leadership.ts';
