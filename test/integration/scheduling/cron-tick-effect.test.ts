/**
 * A tick's effect runs in an Orderly consumer like any event: ticks of a running scheduler, plus one tick
 * written again by another path (same slot, same id), give one effect per slot with the idempotency store.
 */
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { CronScheduler } from '../../../scheduling/scheduler.ts';
import { createScheduleTopic } from '../../../scheduling/schedule-topic.ts';
import { tickEventId, tickMessage } from '../../../scheduling/tick-event.ts';
import { eventually, produce, startTestConsumer, testRedis } from '../../support/consumer-harness.ts';
import { testAdmin, testStack, uniqueName } from '../../support/test-stack.ts';

describe('cron tick effects', () => {
  it('runs one effect per slot, a tick written twice included', { timeout: 90_000 }, async () => {
    const admin = await testAdmin();
    const name = uniqueName('cron-effect');
    const scheduleTopic = `${name}.schedules`;
    const tickTopic = `${name}.ticks`;
    await createScheduleTopic(admin, scheduleTopic);
    await admin.createTopics({ topics: [{ topic: tickTopic, numPartitions: 2 }], waitForLeaders: true });

    const scheduler = new CronScheduler({ kafka: { brokers: testStack().settings.KAFKA_BROKERS.split(',') }, name, schedule: '* * * * * *', topic: tickTopic, scheduleTopic });
    const slots: number[] = [];
    scheduler.events.on('scheduler.tick.published', ({ slotMs }) => slots.push(slotMs));
    await scheduler.start();
    try {
      await eventually(() => slots.length >= 3, () => `${slots.length} ticks published`, 45_000);
    } finally {
      await scheduler.stop();
    }
    // The first slot's tick again, as a retrying publisher elsewhere would write it: same id, same content.
    await produce(tickTopic, [tickMessage({ name, expression: '* * * * * *', timezone: 'UTC' }, slots[0]!)]);

    const groupId = uniqueName('tick-effects');
    const effects = new Map<string, number>();
    const seen: { eventId: string; eventType?: string; scheduledFor?: string }[] = [];
    let skipped = 0;
    const consumer = startTestConsumer({
      groupId,
      topics: [tickTopic],
      idempotencyStore: new RedisIdempotencyStore({ redis: testRedis(), groupId }),
      handler: async (event) => {
        effects.set(event.eventId, (effects.get(event.eventId) ?? 0) + 1);
        seen.push({ eventId: event.eventId, eventType: event.eventType, scheduledFor: event.headers['orderly-scheduled-for'] });
      },
    });
    consumer.events.on('consumer.record.skipped-duplicate', () => skipped++);
    await consumer.start();
    await eventually(() => effects.size === slots.length && skipped === 1, () => `${effects.size} effects of ${slots.length} slots, ${skipped} skipped`, 45_000);

    expect([...effects.values()].every((count) => count === 1)).toBe(true);
    expect([...effects.keys()].sort()).toEqual(slots.map((slot) => tickEventId(name, slot)).sort());
    expect(seen.map(({ scheduledFor }) => scheduledFor)).toEqual(slots.map((slot) => new Date(slot).toISOString()));
    expect(new Set(seen.map(({ eventType }) => eventType))).toEqual(new Set(['orderly.cron.Tick']));
  });
});
