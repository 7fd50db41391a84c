/**
 * `orderly lag`: the group is `--group`, like every other command, and a source topic the broker does not have
 * is an error that names it (exit 1), never an empty "no partitions" report with exit 0.
 */
import { describe, expect, it } from 'vitest';
import { orderly } from '../../support/orderly-cli.ts';
import { createTestTopic, testGroupId, uniqueName } from '../../support/test-stack.ts';

describe('orderly lag', () => {
  it('takes the group as --group and reports an existing topic', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'lag-cli' });
    const group = testGroupId();
    const result = await orderly('lag', '--group', group, '--topic', topic, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { group: string; partitions: { topic: string; tier: string }[] };
    expect(report.group).toBe(group);
    expect(report.partitions.filter((p) => p.tier === 'source').map((p) => p.topic)).toEqual([topic, topic]);
  });

  it('exits 1 and names a source topic that does not exist', async () => {
    const existing = await createTestTopic({ partitions: 1, prefix: 'lag-cli' });
    const missing = uniqueName('lag-cli-missing');
    const result = await orderly('lag', '--group', testGroupId(), '--topic', existing, '--topic', missing);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no such topic: ${missing}`);
    expect(result.stderr).not.toContain(existing);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a positional group: --group is required', async () => {
    const topic = await createTestTopic({ partitions: 1, prefix: 'lag-cli' });
    const result = await orderly('lag', testGroupId(), '--topic', topic);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--group/);
  });
});
