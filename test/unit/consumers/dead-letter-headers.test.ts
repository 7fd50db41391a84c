import { describe, expect, it } from 'vitest';
import { deadLetterHeaders, errorMessageLimit, forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { readHeaders } from '../../../consumers/consumed-record.ts';

const source = { topic: 'orders', partition: 4, offset: '42', timestamp: '1700000000000', headers: { 'orderly-event-id': 'e-1' } };

describe('dead-letter headers', () => {
  it('carry the reason, the origin and the error, and keep the envelope', () => {
    const headers = deadLetterHeaders(source, 'billing', { reason: 'retries-exhausted', attempt: 3, firstFailureAt: 0, error: new Error('boom 123') });
    expect(headers).toMatchObject({
      'orderly-event-id': 'e-1',
      [forwardHeaders.reason]: 'retries-exhausted',
      [forwardHeaders.attempt]: '3',
      [forwardHeaders.originalTopic]: 'orders',
      [forwardHeaders.originalPartition]: '4',
      [forwardHeaders.originalOffset]: '42',
      [forwardHeaders.consumerGroup]: 'billing',
      [forwardHeaders.errorType]: 'Error',
      [forwardHeaders.errorMessage]: 'boom 123',
    });
  });

  it('do not grow when a record is forwarded again, however long the error', () => {
    const huge = new Error('x'.repeat(100_000));
    const once = deadLetterHeaders(source, 'g', { reason: 'non-retryable', attempt: 1, firstFailureAt: 0, error: huge });
    const twice = deadLetterHeaders({ ...source, headers: once }, 'g', { reason: 'non-retryable', attempt: 1, firstFailureAt: 0, error: huge });
    const size = (headers: object) => Object.entries(headers).reduce((total, [name, value]) => total + name.length + String(value).length, 0);
    expect(String(once[forwardHeaders.errorMessage]).length).toBeLessThanOrEqual(errorMessageLimit);
    expect(size(twice)).toBe(size(once));
  });

  it('read defensively: last value wins, bad UTF-8 and __proto__ change nothing', () => {
    const headers = JSON.parse('{"__proto__": "polluted"}') as Record<string, string>;
    Object.assign(headers, { a: ['1', '2'], bad: Buffer.from([0xff, 0xfe]), ok: Buffer.from('yes') });
    const read = readHeaders(headers);
    expect(read.a).toBe('2');
    expect(read.ok).toBe('yes');
    expect('bad' in read).toBe(false);
    expect(Object.getPrototypeOf(read)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
