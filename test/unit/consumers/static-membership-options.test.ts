/** `groupInstanceId` follows Kafka's rules for `group.instance.id`; `leaveGroupOnStop` is for a static member only. */
import { describe, expect, it } from 'vitest';
import { validateOrderedConsumerOptions } from '../../../consumers/options.ts';
import { ConfigurationError } from '../../../core/errors.ts';

const base = { kafka: { brokers: ['127.0.0.1:1'] }, groupId: 'g', topics: ['t'], retryTiersMs: [], handler: async () => undefined };

describe('groupInstanceId and leaveGroupOnStop', () => {
  it('accepts an id of letters, digits, ".", "_" and "-" up to 249 characters; a static member does not leave on stop by default', () => {
    expect(validateOrderedConsumerOptions({ ...base, groupInstanceId: 'ledger.demo_worker-3' })).toMatchObject({ groupInstanceId: 'ledger.demo_worker-3', leaveGroupOnStop: false });
    expect(validateOrderedConsumerOptions({ ...base, groupInstanceId: 'x'.repeat(249), leaveGroupOnStop: true })).toMatchObject({ leaveGroupOnStop: true });
    expect(validateOrderedConsumerOptions(base).groupInstanceId).toBeUndefined();
  });

  it.each([
    ['', /groupInstanceId: must not be empty/],
    ['x'.repeat(250), /groupInstanceId: must be at most 249 characters/],
    ['worker 1', /groupInstanceId: may hold only letters, digits/],
    ['wörker', /groupInstanceId: may hold only letters, digits/],
    ['worker\n1', /groupInstanceId: may hold only letters, digits/],
    ['..', /groupInstanceId: must not be "\." or "\.\."/],
  ])('refuses %j', (groupInstanceId, message) => {
    expect(() => validateOrderedConsumerOptions({ ...base, groupInstanceId })).toThrow(ConfigurationError);
    expect(() => validateOrderedConsumerOptions({ ...base, groupInstanceId })).toThrow(message);
  });

  it('refuses leaveGroupOnStop without groupInstanceId (a dynamic member always leaves)', () => {
    expect(() => validateOrderedConsumerOptions({ ...base, leaveGroupOnStop: false })).toThrow(/consumer\.leaveGroupOnStop: applies to a static member only/);
  });
});
