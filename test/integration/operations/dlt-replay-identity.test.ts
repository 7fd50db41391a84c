/**
 * Replay records follow the record, not its offset: after the DLT is deleted and recreated, three new dead
 * letters at the offsets of three replayed ones (same keys, even the same event ids) are neither skipped by
 * `orderly dlt replay` as "replayed already" nor deleted by `orderly dlt purge`; a purge forgets the old entries.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Admin } from '../../../core/kafka-client.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { produce, testRedis } from '../../support/consumer-harness.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';

function deadLetters() {
  return [1, 2, 3].map((sequence) => ({ key: 'acct-1', value: JSON.stringify({ sequence }), headers: { 'orderly-event-id': `acct-1#${sequence}`, 'orderly-dlt-reason': 'non-retryable' } }));
}

/** Deletes and recreates `topic` (the broker finishes a deletion in the background: retried for up to 60 s). */
async function recreate(admin: Admin, topic: string): Promise<void> {
  await admin.deleteTopics({ topics: [topic] });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }).catch(() => false);
    if (created) return;
  }
  throw new Error(`${topic} was not recreated within 60 s`);
}

describe('dlt replay records', () => {
  it('do not carry over to the records of a recreated DLT', async () => {
    const topic = uniqueName('dlt-identity');
    const groupId = testGroupId();
    const dltTopic = deadLetterTopicOf(topic, groupId);
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: dltTopic, numPartitions: 1 }], waitForLeaders: true });
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [topic, dltTopic] }).catch(() => undefined);
    });
    await produce(dltTopic, deadLetters());
    const replayed = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--confirm', '3', '--rate', 'unlimited');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain(`replayed 3: 3 to ${topic}`);
    const skipped = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId);
    expect(skipped.stdout).toContain('0 record(s) selected of 3 matching');

    await recreate(admin, dltTopic);
    await produce(dltTopic, deadLetters());
    expect(await admin.fetchTopicOffsets(dltTopic)).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '3' })]);

    const listed = await orderly('dlt', 'list', '--topic', topic, '--group', groupId);
    expect(listed.stdout.match(/replayed-from-here 0/g)).toHaveLength(3);
    const dryRun = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout.match(/^would replay /gm)).toHaveLength(3);
    expect(dryRun.stdout).toContain('3 record(s) selected of 3 matching');
    expect(dryRun.stdout).toContain('0 skipped');

    const purgeDryRun = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId);
    expect(purgeDryRun.stdout).toContain(`0 replayed record(s) of 3 in ${dltTopic} would be deleted`);
    const purge = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId, '--confirm', '3');
    expect(purge.code).toBe(1);
    expect(purge.stderr).toContain('--confirm 3 does not match the 0 record(s) that would be deleted: nothing was changed');
    expect(await admin.fetchTopicOffsets(dltTopic)).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '3' })]);

    // The new records replay and purge as usual.
    const again = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--confirm', '3', '--rate', 'unlimited');
    expect(again.code, again.stderr).toBe(0);
    const purged = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId, '--confirm', '3');
    expect(purged.code, purged.stderr).toBe(0);
    expect(await admin.fetchTopicOffsets(dltTopic)).toEqual([expect.objectContaining({ partition: 0, low: '3', high: '3' })]);
    // The purge forgot the purged records and the old topic's entries: nothing is left to mislead a later run.
    expect(await testRedis().keys(`orderly:${groupId}:dlt-replays:*`)).toEqual([]);
  });
});
