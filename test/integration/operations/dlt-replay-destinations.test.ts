/**
 * `orderly dlt replay` checks where it would write before it changes anything: a deleted source topic (or one
 * recreated with fewer partitions) is refused at once, naming the topic, with no kafkajs stack, the dead-letter
 * marker kept and nothing counted as replayed. `--rate 0` is refused instead of meaning "unlimited".
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { produce, testRedis } from '../../support/consumer-harness.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';

describe('orderly dlt replay destinations', () => {
  it('refuses a missing source topic or partition before touching the marker, and refuses --rate 0', async () => {
    const topic = uniqueName('dlt-dest');
    const groupId = testGroupId();
    const dltTopic = deadLetterTopicOf(topic, groupId);
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic: dltTopic, numPartitions: 2 }], waitForLeaders: true });
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [topic, dltTopic] }).catch(() => undefined);
    });
    await produce(dltTopic, [
      { key: 'k', partition: 1, value: '{}', headers: { 'orderly-event-id': 'dest#1', 'orderly-dlt-reason': 'non-retryable' } },
    ]);
    const redis = testRedis();
    const marker = `orderly:${groupId}:done:dest#1`;
    onTestFinished(async () => {
      await redis.del(marker);
    });
    await redis.set(marker, 'dlt:hash');
    const dltBefore = JSON.stringify(await admin.fetchTopicOffsets(dltTopic));

    // The source topic does not exist (deleted): refused at once, for the dry run too.
    for (const confirm of [[], ['--confirm', '1']]) {
      const startedAt = Date.now();
      const refused = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, ...confirm);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`orderly: cannot replay: the source topic ${topic} does not exist`);
      expect(refused.stderr).toContain('nothing was changed');
      expect(refused.stderr).not.toMatch(/^\s+at /m);
      expect(Date.now() - startedAt).toBeLessThan(8_000);
    }
    expect(await redis.get(marker)).toBe('dlt:hash');
    expect(await redis.keys(`orderly:${groupId}:*replay*`)).toEqual([]);

    // Recreated with one partition: the record of partition 1 has nowhere to go.
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const fewer = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--confirm', '1');
    expect(fewer.code).toBe(1);
    expect(fewer.stderr).toContain(`the source topic ${topic} has 1 partition(s), but the records selected include partition 1`);
    expect(await redis.get(marker)).toBe('dlt:hash');
    expect(JSON.stringify(await admin.fetchTopicOffsets(dltTopic))).toBe(dltBefore);
    expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, high: '0' })]);

    const rateZero = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--rate', '0');
    expect(rateZero.code).toBe(1);
    expect(rateZero.stderr).toContain('--rate "0" must be a number of records per second above 0, or "unlimited"');
  });

  it('refuses a source that gained partitions since the records were dead-lettered, unless --allow-repartitioned', async () => {
    const topic = uniqueName('dlt-repart');
    const groupId = testGroupId();
    const dltTopic = deadLetterTopicOf(topic, groupId);
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: dltTopic, numPartitions: 2 }], waitForLeaders: true });
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [topic, dltTopic] }).catch(() => undefined);
    });
    await produce(dltTopic, [{ key: 'k', partition: 1, value: '{}', headers: { 'orderly-event-id': 'repart#1', 'orderly-dlt-reason': 'non-retryable' } }]);
    const same = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId);
    expect(same.code, same.stderr).toBe(0);

    // The source grew to 3 partitions: key k may now hash elsewhere, and its replay would land behind nothing.
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    for (const confirm of [[], ['--confirm', '1']]) {
      const refused = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, ...confirm);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`cannot replay: the source topic ${topic} has 3 partition(s) and the DLT ${dltTopic} has 2`);
      expect(refused.stderr).toContain('--allow-repartitioned');
      expect(refused.stderr).not.toMatch(/^\s+at /m);
    }
    expect(await admin.fetchTopicOffsets(topic)).toEqual(expect.arrayContaining([expect.objectContaining({ partition: 1, high: '0' })]));

    const allowed = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--allow-repartitioned', '--confirm', '1', '--rate', 'unlimited');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/warning: the source topic .* has 3 partition\(s\) and the DLT .* has 2/);
    expect(allowed.stdout).toContain(`replayed 1: 1 to ${topic}`);
  });
});
