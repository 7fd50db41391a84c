/**
 * `orderly topics create | check` with declared settings, on the real broker: flags or a topics.yaml beside the
 * service's code; create makes the topics with those settings (the DLT keeps records forever by default);
 * check exits 1 and names every difference, as text or JSON; a missing file names its path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { deadLetterTopicOf, retryTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { formatRetention } from '../../../operations/topic-settings.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';

async function topicConfig(topic: string): Promise<Record<string, string>> {
  const admin = await testAdmin();
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['retention.ms', 'max.message.bytes', 'cleanup.policy', 'min.insync.replicas'] }] });
  return Object.fromEntries(described.resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]));
}

async function deleteAfter(topic: string, group: string, tiers: number): Promise<void> {
  const admin = await testAdmin();
  onTestFinished(() => admin.deleteTopics({ topics: [topic, ...Array.from({ length: tiers }, (_, index) => retryTopicOf(topic, group, index + 1)), deadLetterTopicOf(topic, group)] }).catch(() => undefined));
}

describe('declared topics', () => {
  it('creates the layout with the flags\' settings, the DLT forever, and checks clean', async () => {
    const topic = uniqueName('declared');
    const group = testGroupId();
    await deleteAfter(topic, group, 1);
    const created = await orderly('topics', 'create', topic, '--group', group, '--partitions', '2', '--tiers', '1', '--replication-factor', '1', '--min-insync-replicas', '1', '--retention', '2d', '--max-message-bytes', '2097152', '--cleanup-policy', 'delete');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(await topicConfig(topic)).toMatchObject({ 'retention.ms': '172800000', 'max.message.bytes': '2097152', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' });
    expect(await topicConfig(retryTopicOf(topic, group, 1))).toMatchObject({ 'retention.ms': '172800000', 'max.message.bytes': '2097152' });
    expect(await topicConfig(deadLetterTopicOf(topic, group))).toMatchObject({ 'retention.ms': '-1', 'max.message.bytes': '2097152' });

    const check = await orderly('topics', 'check', topic, '--group', group, '--tiers', '1', '--replication-factor', '1', '--retention', '2d', '--max-message-bytes', '2097152', '--json');
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toEqual({ ok: true, differences: [] });
  });

  it('exits 1 naming every difference: replication factor, retention, max.message.bytes, cleanup policy, the DLT\'s retention', async () => {
    const topic = uniqueName('declared');
    const group = testGroupId();
    await deleteAfter(topic, group, 0);
    const admin = await testAdmin();
    // Made by hand, with the broker's defaults (its retention, the DLT included).
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: deadLetterTopicOf(topic, group), numPartitions: 1 }], waitForLeaders: true });
    const brokerRetention = (await topicConfig(topic))['retention.ms']!;
    expect(brokerRetention).not.toBe('172800000');
    const shown = `${brokerRetention} (${formatRetention(Number(brokerRetention))})`;
    const check = await orderly('topics', 'check', topic, '--group', group, '--tiers', '0', '--replication-factor', '3', '--retention', '2d', '--max-message-bytes', '2097152', '--cleanup-policy', 'compact');
    expect(check.code).toBe(1);
    const problems = check.stdout.trim().split('\n');
    for (const expected of [
      `${topic}: replication.factor is 1, declared 3`,
      `${topic}: retention.ms is ${shown}, declared 172800000 (2d)`,
      `${topic}: max.message.bytes is 1048588, declared 2097152`,
      `${topic}: cleanup.policy is delete, declared compact`,
      `${deadLetterTopicOf(topic, group)}: retention.ms is ${shown}, declared -1 (forever)`,
      `${deadLetterTopicOf(topic, group)}: replication.factor is 1, declared 3`,
    ]) {
      expect(problems).toContain(`PROBLEM  ${expected}`);
    }
    const json = await orderly('topics', 'check', topic, '--group', group, '--tiers', '0', '--retention', '2d', '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; differences: { topic: string; setting: string; declared: string; actual: string }[] };
    expect(report.ok).toBe(false);
    expect(report.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ topic, setting: 'retention.ms', declared: '172800000', actual: brokerRetention }),
        expect.objectContaining({ topic: deadLetterTopicOf(topic, group), setting: 'retention.ms', declared: '-1', actual: brokerRetention }),
      ]),
    );
  });

  it('reads topics.yaml beside the service, creates from it and checks against it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'orderly-topics-'));
    onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    const [first, second] = [uniqueName('declared'), uniqueName('declared')];
    const group = testGroupId();
    await deleteAfter(first, group, 2);
    await deleteAfter(second, group, 0);
    const file = join(folder, 'topics.yaml');
    writeFileSync(
      file,
      [
        'defaults:',
        '  replicationFactor: 1',
        'topics:',
        `  - { topic: ${first}, group: ${group}, partitions: 3, tiers: 2, retention: 3d }`,
        `  - topic: ${second}`,
        `    group: ${group}`,
        '    partitions: 1',
        '    tiers: 0',
        '    deadLetter: { retention: 30d }',
        '',
      ].join('\n'),
    );
    const created = await orderly('topics', 'create', '--file', file);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created  ${retryTopicOf(first, group, 2)}`);
    expect(await topicConfig(deadLetterTopicOf(first, group))).toMatchObject({ 'retention.ms': '-1' });
    expect(await topicConfig(deadLetterTopicOf(second, group))).toMatchObject({ 'retention.ms': '2592000000' });
    expect((await orderly('topics', 'check', '--file', file)).code).toBe(0);

    writeFileSync(file, ['topics:', `  - { topic: ${first}, group: ${group}, partitions: 4, tiers: 2, retention: 3d }`, ''].join('\n'));
    const drifted = await orderly('topics', 'check', '--file', file);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain(`PROBLEM  ${first}: partitions is 3, declared 4`);
  });

  it('names the path of a missing topics file, and every problem of a bad one', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'orderly-topics-'));
    onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    const missing = await orderly('topics', 'check', '--file', join(folder, 'nope.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`orderly: Invalid configuration:\n  - no such file: ${join(folder, 'nope.yaml')}`);
    const bad = join(folder, 'topics.yaml');
    writeFileSync(bad, 'topics:\n  - { topic: "bad name", group: g, retention: soon, minInsyncReplicas: 0 }\n');
    const invalid = await orderly('topics', 'create', '--file', bad);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(`${bad}: topics[0].topic`);
    expect(invalid.stderr).toContain(`${bad}: topics[0].retention`);
    expect(invalid.stderr).toContain(`${bad}: topics[0].minInsyncReplicas`);
    expect(invalid.stderr).not.toMatch(/\n\s+at /);
  });
});
