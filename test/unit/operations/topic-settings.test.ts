import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { declareTopics, parseRetention, withReplicationDefaults } from '../../../operations/topic-settings.ts';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return [...(error as ConfigurationError).problems];
  }
  throw new Error('expected a ConfigurationError');
}

describe('declared cleanup policies', () => {
  it('a compacted source keeps its policy; its retry tiers and its DLT are always delete (dead letters are never compacted away)', () => {
    const [declaration] = declareTopics([{ topic: 'orders', group: 'billing', cleanupPolicy: 'compact' }]);
    expect(declaration!.settings.cleanupPolicy).toBe('compact');
    expect(declaration!.retries.cleanupPolicy).toBe('delete');
    expect(declaration!.deadLetter.cleanupPolicy).toBe('delete');
  });

  it('compact,delete on the source does not reach the tiers or the DLT either', () => {
    const [declaration] = declareTopics([{ topic: 'orders', group: 'billing', cleanupPolicy: 'compact,delete' }], 'topics', { cleanupPolicy: 'compact' });
    expect(declaration!.retries.cleanupPolicy).toBe('delete');
    expect(declaration!.deadLetter.cleanupPolicy).toBe('delete');
  });

  it('refuses a compacting policy declared for the DLT, naming the field', () => {
    for (const cleanupPolicy of ['compact', 'compact,delete']) {
      const problems = problemsOf(() => declareTopics([{ topic: 'orders', group: 'billing', deadLetter: { cleanupPolicy } }]));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^topics\[0\]\.deadLetter\.cleanupPolicy: /);
      expect(problems[0]).toContain('delete');
    }
  });
});

describe('retention parsing', () => {
  it('accepts ordinary durations', () => {
    expect(parseRetention('7d')).toBe(604_800_000);
    expect(parseRetention(1500)).toBe(1500);
    expect(parseRetention('forever')).toBe(-1);
  });

  it('refuses a duration whose milliseconds are not a safe integer, instead of overflowing', () => {
    for (const value of ['99999999999999999999d', '9007199254740993', '9007199254740993ms', Number.MAX_SAFE_INTEGER + 1, 1e300, '104249992d']) {
      expect(() => parseRetention(value), String(value)).toThrow(ConfigurationError);
    }
    expect(parseRetention('104249991d')).toBe(104_249_991 * 86_400_000);
  });

  it('names the field holding an overflowing retention', () => {
    const problems = problemsOf(() => declareTopics([{ topic: 'orders', group: 'billing', retention: '99999999999999999999d', deadLetter: { retention: '9007199254740993' } }]));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^topics\[0\]\.retention: .*too large/);
    expect(problems[1]).toMatch(/^topics\[0\]\.deadLetter\.retention: .*too large/);
  });
});

describe('withReplicationDefaults', () => {
  const [declared] = declareTopics([{ topic: 'orders', group: 'billing', partitions: 6 }], 'flags');

  it('gives an undeclared replication 3 copies and min ISR 2 on three brokers, on the source, the tiers and the DLT', () => {
    const [onCluster] = withReplicationDefaults([declared!], 3);
    for (const settings of [onCluster!.settings, onCluster!.retries, onCluster!.deadLetter]) {
      expect(settings).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
    }
    expect(onCluster!.deadLetter.retentionMs).toBe(-1);
  });

  it('leaves a single broker to its own defaults and keeps what a declaration names', () => {
    expect(withReplicationDefaults([declared!], 1)[0]!.settings.replicationFactor).toBeUndefined();
    const [named] = declareTopics([{ topic: 'orders', group: 'billing', replicationFactor: 1 }], 'flags');
    expect(withReplicationDefaults([named!], 3)[0]!.settings).toEqual({ replicationFactor: 1 });
  });
});
