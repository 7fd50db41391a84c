/**
 * Replay into a held key's lane, and `orderly keys parked | release`, as child processes against the real
 * stack: with the ladder and `onDeadLetter: 'hold'`, a key whose head was dead-lettered is held and its
 * successors follow it into the DLT; a confirmed replay puts them back at the front of the key's lane through
 * tier 1, and the consumer handles them in order before anything later of that key; a released key goes on.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { NonRetryableError } from '../../../core/errors.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { eventually, produce, startTestConsumer, testRedis } from '../../support/consumer-harness.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { createTestTopic, testAdmin, testGroupId } from '../../support/test-stack.ts';



function event(key: string, sequence: number) {
  return { key, value: JSON.stringify({ key, sequence }), headers: { 'orderly-event-id': `${key}#${sequence}` } };
}

describe('replay into a held key\'s lane', () => {
  it('handles the replayed head and its successors in order; keys parked lists held keys and keys release frees one', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'lane' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [retryTopicOf(topic, groupId, 1), deadLetterTopicOf(topic, groupId)] }).catch(() => undefined);
    });
    const created = await orderly('topics', 'create', topic, '--group', groupId, '--tiers', '1');
    expect(created.code, created.stderr).toBe(0);
    const metadata = await admin.fetchTopicMetadata({ topics: [retryTopicOf(topic, groupId, 1), deadLetterTopicOf(topic, groupId)] });
    expect(metadata.topics.map((entry) => entry.partitions.length)).toEqual([2, 2]);
    const check = await orderly('topics', 'check', topic, '--group', groupId, '--tiers', '2');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`missing ${retryTopicOf(topic, groupId, 2)}`);

    await produce(topic, [1, 2, 3, 4, 5].map((sequence) => event('acct-A', sequence)).concat([1, 2, 3].map((sequence) => event('acct-B', sequence)), [1, 2].map((sequence) => event('acct-C', sequence))));
    const redis = testRedis();
    let failing = true;
    const handled = new Map<string, number[]>();
    let deadLettered = 0;
    const consumer = startTestConsumer<{ key: string; sequence: number }>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      inPlaceRetries: 0,
      retryTiersMs: [300],
      onDeadLetter: 'hold',
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
      parkingStore: new RedisParkingStore({ redis, groupId }),
      handler: async ({ eventId, value }) => {
        if (failing && eventId === 'acct-A#2') throw new Error('ledger unavailable');
        if (failing && eventId === 'acct-C#1') throw new NonRetryableError('account frozen');
        handled.set(value.key, [...(handled.get(value.key) ?? []), value.sequence]);
      },
    });
    consumer.events.on('consumer.record.dead-lettered', () => deadLettered++);
    await consumer.start();
    const handledCount = () => [...handled.values()].reduce((total, list) => total + list.length, 0);
    await eventually(() => handledCount() + deadLettered >= 10, () => `${handledCount()} handled + ${deadLettered} dead-lettered of 10`);
    expect(Object.fromEntries(handled)).toEqual({ 'acct-A': [1], 'acct-B': [1, 2, 3] });

    // Both keys are held, nothing queued.
    const parked = await orderly('keys', 'parked', '--group', groupId, '--topic', topic);
    expect(parked.code, parked.stderr).toBe(0);
    expect(parked.stdout).toMatch(/^acct-A\s+\S+\s+\d\s+0\s+1\s+yes\s+\d{4}-/m);
    expect(parked.stdout).toContain('2 parked key(s), 2 held');

    // Dry run: acct-A's four records go into its lane through tier 1.
    const dryRun = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--key', 'acct-A');
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout.match(new RegExp(`^would replay .* -> ${retryTopicOf(topic, groupId, 1).replace(/\./g, '\\.')} p\\d \\(lane of parked key\\)$`, 'gm'))).toHaveLength(4);
    expect(dryRun.stdout).toMatch(/reason=retries-exhausted/);
    expect(dryRun.stdout.match(/reason=predecessor-dead-lettered/g)).toHaveLength(3);

    failing = false;
    const replayed = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--key', 'acct-A', '--confirm', '4');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain("replayed 4: 0 to");
    expect(replayed.stdout).toContain("4 into parked keys' lanes");
    // A later event of the key, published at once, waits behind the replayed ones in the lane.
    await produce(topic, [event('acct-A', 6)]);
    await eventually(() => (handled.get('acct-A') ?? []).length >= 6, () => `acct-A handled ${handled.get('acct-A')}`);
    expect(handled.get('acct-A')).toEqual([1, 2, 3, 4, 5, 6]);

    // acct-A's lane is empty and no longer held: unparked. acct-C is still held.
    const parkedJson = JSON.parse((await orderly('keys', 'parked', '--group', groupId, '--topic', topic, '--json')).stdout) as { key: string; held: boolean; queueLength: number }[];
    expect(parkedJson.map(({ key, held, queueLength }) => ({ key, held, queueLength }))).toEqual([{ key: 'acct-C', held: true, queueLength: 0 }]);

    // Release: a dry run without --confirm, then for real; the key's next event is handled.
    const notParked = await orderly('keys', 'release', 'acct-Z', '--topic', topic, '--group', groupId, '--confirm', '1');
    expect(notParked.code).toBe(1);
    expect(notParked.stderr).toMatch(/key "acct-Z" is not parked for topic/);
    const dryRelease = await orderly('keys', 'release', 'acct-C', '--topic', topic, '--group', groupId);
    expect(dryRelease.stdout).toMatch(/^would unpark it \(nothing queued\): acct-C .*--confirm 1$/m);
    expect(await new RedisParkingStore({ redis, groupId }).list(topic)).toHaveLength(1);
    const release = await orderly('keys', 'release', 'acct-C', '--topic', topic, '--group', groupId, '--confirm', '1');
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toMatch(/^released acct-C \(.* p\d\): unparked$/m);
    expect((await orderly('keys', 'parked', '--group', groupId)).stdout).toContain(`no parked keys for group ${groupId}`);
    await produce(topic, [event('acct-C', 3)]);
    await eventually(() => handled.has('acct-C'), () => 'acct-C#3 not handled after release');
    expect(handled.get('acct-C')).toEqual([3]);
  });
});
