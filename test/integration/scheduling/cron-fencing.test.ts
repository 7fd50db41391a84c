/**
 * Fencing at publish time, step by step on the real broker: a leader that lost the schedule (its successor
 * claimed it) cannot publish, whether it starts a new transaction or was in the middle of one; the successor
 * reads the last slot its predecessor committed. Then the scheduler with a clock moved to a DST change: the
 * slots it catches up across a gap and a repeat are the instants croner gives, each once.
 */
import { describe, expect, it } from 'vitest';
import { FencedTickPublisher, isFencedError } from '../../../scheduling/fenced-tick-publisher.ts';
import { CronScheduler } from '../../../scheduling/scheduler.ts';
import { createScheduleTopic } from '../../../scheduling/schedule-topic.ts';
import { stateMessage } from '../../../scheduling/schedule-records.ts';
import { tickEventId, tickMessage } from '../../../scheduling/tick-event.ts';
import { readTicks } from '../../support/cron-cluster.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testKafka, testStack, uniqueName } from '../../support/test-stack.ts';

async function topics(): Promise<{ tickTopic: string; scheduleTopic: string; name: string }> {
  const admin = await testAdmin();
  const name = uniqueName('cron');
  const scheduleTopic = `${name}.schedules`;
  const tickTopic = `${name}.ticks`;
  await createScheduleTopic(admin, scheduleTopic);
  await admin.createTopics({ topics: [{ topic: tickTopic, numPartitions: 2 }], waitForLeaders: true });
  return { tickTopic, scheduleTopic, name };
}

const slot = Date.parse('2026-01-01T00:00:00Z');

/** Runs a scheduler whose clock starts at `fakeNow`, after a seeded last slot, until it published `count` ticks (all catch-up). */
async function catchUp(expression: string, lastSlot: string, fakeNow: string, count: number) {
  const { tickTopic, scheduleTopic, name } = await topics();
  const producer = testKafka().producer();
  await producer.connect();
  await producer.send({
    topic: scheduleTopic,
    messages: [stateMessage({ schedule: name, lastSlot, lastEventId: 'seed', expression, timezone: 'Europe/Berlin', topic: tickTopic, instance: 'seed' })],
  });
  await producer.disconnect();
  const realStart = Date.now();
  const scheduler = new CronScheduler({
    kafka: { brokers: testStack().settings.KAFKA_BROKERS.split(',') },
    name,
    schedule: expression,
    timezone: 'Europe/Berlin',
    topic: tickTopic,
    scheduleTopic,
    now: () => Date.parse(fakeNow) + (Date.now() - realStart),
  });
  const published: string[] = [];
  const modes = new Set<string>();
  scheduler.events.on('scheduler.tick.published', ({ slotMs, mode }) => {
    published.push(new Date(slotMs).toISOString());
    modes.add(mode);
  });
  await scheduler.start();
  try {
    const deadline = Date.now() + 40_000;
    while (published.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more comes
  } finally {
    await scheduler.stop();
  }
  expect([...modes]).toEqual(['catch-up']);
  const onTopic = (await readTicks(testKafka(), tickTopic, 30_000)).map((tick) => tick.slot).sort();
  return { published, onTopic, scheduleTopic, name };
}

describe('cron fencing', () => {
  it('refuses the deposed leader at the broker: a new transaction, one left open and a tick written ahead of its slot all fail, and nothing of them is read', { timeout: 60_000 }, async () => {
    const { tickTopic, scheduleTopic, name } = await topics();
    const identity = (instance: string) => ({ name, expression: '* * * * * *', timezone: 'UTC', topic: tickTopic, scheduleTopic, instance });
    const old = new FencedTickPublisher(testKafka(), identity('old'), 10_000);
    const successor = new FencedTickPublisher(testKafka(), identity('new'), 10_000);
    const third = new FencedTickPublisher(testKafka(), identity('third'), 10_000);
    // A transaction of the old leader open when it froze (begun and sent, not committed), through a producer of the same transactional id.
    const zombie = testKafka().producer({ transactionalId: `orderly-cron.${name}-raw`, idempotent: true, maxInFlightRequests: 1 });
    try {
      await old.claim(Date.now());
      expect(await old.publish([slot], Date.now)).toBeGreaterThan(0);

      await zombie.connect();
      const open = await zombie.transaction();
      await open.send({ topic: tickTopic, messages: [tickMessage({ name, expression: '* * * * * *', timezone: 'UTC' }, slot + 1_000)] });
      const zombieSuccessor = testKafka().producer({ transactionalId: `orderly-cron.${name}-raw`, idempotent: true, maxInFlightRequests: 1 });
      await zombieSuccessor.connect();
      await (await zombieSuccessor.transaction()).abort(); // the successor's init aborts the open transaction
      await expect(open.commit()).rejects.toSatisfy(isFencedError);
      await zombieSuccessor.disconnect();

      // A new transaction of a deposed leader: refused.
      await successor.claim(Date.now());
      const refused = await old.publish([slot + 1_000], Date.now).then(() => undefined, (error: unknown) => error);
      expect(isFencedError(refused), String(refused)).toBe(true);

      // A tick written ahead of its slot (an open transaction) by a leader deposed before it commits: refused too.
      const prepared = await successor.prepare([slot + 2_000], Date.now);
      await third.claim(Date.now());
      await expect(prepared.commit()).rejects.toSatisfy(isFencedError);
      await third.publish([slot + 1_000], Date.now);

      // Only the two committed ticks: not the open transaction's, not the refused one's, not the one written ahead.
      const ticks = await readTicks(testKafka(), tickTopic, 30_000);
      expect(ticks.map((tick) => tick.slot).sort()).toEqual([new Date(slot).toISOString(), new Date(slot + 1_000).toISOString()]);
      expect(ticks.map((tick) => tick.eventId).sort()).toEqual([tickEventId(name, slot), tickEventId(name, slot + 1_000)].sort());
    } finally {
      await old.close();
      await successor.close();
      await third.close();
      await zombie.disconnect().catch(() => undefined);
    }
  });

  it('catches up across a DST repeat and a gap (Europe/Berlin) with each slot once, from the last slot on the schedule topic', { timeout: 90_000 }, async () => {
    // The repeat of 2026-10-25 (02:00-03:00 twice): a 30-minute step runs in both hours.
    const repeat = await catchUp('0 */30 * * * *', '2026-10-24T23:30:00.000Z', '2026-10-25T02:10:00Z', 5);
    expect(repeat.published).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-25T02:00:00.000Z']);
    expect(repeat.onTopic).toEqual(repeat.published);
    // The gap of 2026-03-29 (02:00 -> 03:00): a daily 02:30 runs at 03:00 CEST that day.
    const gap = await catchUp('0 30 2 * * *', '2026-03-28T01:30:00.000Z', '2026-03-30T01:00:00Z', 2);
    expect(gap.published).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(gap.onTopic).toEqual(gap.published);

    const list = await orderly('cron', 'list', '--schedule-topic', repeat.scheduleTopic, '--json');
    expect(list.code, list.stderr).toBe(0);
    const [entry] = (JSON.parse(list.stdout) as { schedules: { schedule: string; lastSlot: string; nextSlot: string; members: number; leader: string }[] }).schedules;
    expect(entry).toMatchObject({ schedule: repeat.name, lastSlot: '2026-10-25T02:00:00.000Z', members: 0 });
    expect(entry!.leader).toContain(':');
    expect(Date.parse(entry!.nextSlot)).toBeGreaterThan(Date.now() - 1_000);
  });

  it('starts only on existing topics, saying which command creates the missing one', { timeout: 60_000 }, async () => {
    const missing = uniqueName('cron-missing');
    const result = await orderly('cron', 'run', '--name', 'x', '--schedule', '* * * * * *', '--topic', `${missing}.ticks`, '--schedule-topic', `${missing}.schedules`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the schedule topic ${missing}.schedules does not exist: create it with \`orderly cron init --schedule-topic ${missing}.schedules\``);
    expect(result.stderr).toContain(`the tick topic ${missing}.ticks does not exist`);
    const list = await orderly('cron', 'list', '--schedule-topic', `${missing}.schedules`);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain(`the schedule topic ${missing}.schedules does not exist: create it with \`orderly cron init --schedule-topic ${missing}.schedules\``);
    const admin = await testAdmin();
    expect(await admin.listTopics()).not.toContain(`${missing}.schedules`);
    const init = await orderly('cron', 'init', '--schedule-topic', `${missing}.schedules`);
    expect(init.stdout).toContain(`created  ${missing}.schedules`);
    const described = await admin.describeConfigs({ resources: [{ type: 2, name: `${missing}.schedules`, configNames: ['cleanup.policy'] }], includeSynonyms: false });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    await admin.deleteTopics({ topics: [`${missing}.schedules`] });
  });
});
