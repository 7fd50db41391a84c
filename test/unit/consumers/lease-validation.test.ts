/** leaseMs must outlive the longest time a claim goes unrenewed, not one handler timeout (issue 15 item 7). */
import { describe, expect, it } from 'vitest';
import { claimWorstCaseMs, validateOrderedConsumerOptions } from '../../../consumers/options.ts';
import { ConfigurationError } from '../../../core/errors.ts';

const base = { kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['t'], retryTiersMs: [], handler: async () => undefined };

describe('leaseMs validation', () => {
  it('refuses a lease that an attempt plus the wait for a timed-out attempt outlast', () => {
    // 1.5 handler timeouts: longer than one attempt, shorter than an attempt and the wait for it to settle.
    expect(() => validateOrderedConsumerOptions({ ...base, handlerTimeoutMs: 1_000, inPlaceRetries: 0, leaseMs: 1_500 })).toThrow(ConfigurationError);
    expect(() => validateOrderedConsumerOptions({ ...base, handlerTimeoutMs: 1_000, inPlaceRetries: 2, retryBackoffMs: 1_000, retryBackoffMaxMs: 4_000, leaseMs: 5_000 })).toThrow(/leaseMs/);
  });

  it('accepts a lease longer than the worst case, and defaults to the worst case plus 10 s', () => {
    expect(validateOrderedConsumerOptions({ ...base, handlerTimeoutMs: 1_000, inPlaceRetries: 0, leaseMs: 2_001 }).leaseMs).toBe(2_001);
    const options = { handlerTimeoutMs: 1_000, inPlaceRetries: 2, retryBackoffMs: 1_000, retryBackoffMaxMs: 4_000 };
    expect(claimWorstCaseMs(options)).toBe(2_000 + 4_000);
    expect(validateOrderedConsumerOptions({ ...base, ...options }).leaseMs).toBe(16_000);
  });
});
