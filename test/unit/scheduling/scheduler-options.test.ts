/** The scheduler's options at the boundary, and how a fenced producer's error is told from another failure. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { isFencedError } from '../../../scheduling/fenced-tick-publisher.ts';
import { validateCronSchedulerOptions } from '../../../scheduling/options.ts';
import { CronScheduler } from '../../../scheduling/scheduler.ts';

const kafka = { brokers: ['127.0.0.1:9092'] };

describe('CronScheduler options', () => {
  it('fill the defaults', () => {
    expect(validateCronSchedulerOptions({ kafka, name: 'nightly', schedule: '0 0 2 * * *', topic: 'ticks' })).toMatchObject({
      timezone: 'UTC',
      scheduleTopic: 'orderly.schedules',
      missedSlots: 'catch-up',
      maxCatchUp: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    });
  });

  it('report every problem at once, each naming the option', () => {
    let error: unknown;
    try {
      validateCronSchedulerOptions({ kafka, name: 'bad name', schedule: '', topic: '', maxCatchUp: 0, missedSlots: 'all' as never });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems.join('\n');
    for (const option of ['cron.name', 'cron.schedule', 'cron.topic', 'cron.maxCatchUp', 'cron.missedSlots']) expect(problems).toContain(option);
  });

  it('refuse a heartbeat too close to the session timeout, a bad expression and an unknown zone before connecting', () => {
    expect(() => validateCronSchedulerOptions({ kafka, name: 'n', schedule: '* * * * * *', topic: 't', heartbeatIntervalMs: 3_000 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new CronScheduler({ kafka, name: 'n', schedule: '* * *', topic: 't' })).toThrow(ConfigurationError);
    expect(() => new CronScheduler({ kafka, name: 'n', schedule: '* * * * * *', timezone: 'Nowhere/Else', topic: 't' })).toThrow(/Nowhere\/Else/);
  });
});

describe('isFencedError', () => {
  it('is true for the broker refusing an older producer epoch, directly or as a cause, and false otherwise', () => {
    expect(isFencedError({ type: 'INVALID_PRODUCER_EPOCH', code: 47 })).toBe(true);
    expect(isFencedError({ name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'KAFKAJS_UNKNOWN_ERROR_CODE', code: 90 } })).toBe(true);
    expect(isFencedError({ originalError: { type: 'PRODUCER_FENCED' } })).toBe(true);
    expect(isFencedError(new Error('Connection timeout'))).toBe(false);
    expect(isFencedError({ type: 'NOT_LEADER_FOR_PARTITION', code: 6 })).toBe(false);
    expect(isFencedError(undefined)).toBe(false);
  });
});
