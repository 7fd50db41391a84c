import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { matchesDltFilter, parseTimePoint, validateDltFilter } from '../../../operations/dlt-filter.ts';
import { toDltRecord } from '../../../operations/dlt-record.ts';
import { dltRecord } from './dlt-record-fixtures.ts';

describe('DLT filters', () => {
  it('select by key, reason, error type and time window (since inclusive, until exclusive)', () => {
    const record = dltRecord(0, 5, { key: 'a', reason: 'non-retryable', errorType: 'NON_RETRYABLE', timestamp: 1_000 });
    expect(matchesDltFilter(record, {})).toBe(true);
    expect(matchesDltFilter(record, { key: 'a', reason: 'non-retryable', errorType: 'NON_RETRYABLE' })).toBe(true);
    expect(matchesDltFilter(record, { key: 'b' })).toBe(false);
    expect(matchesDltFilter(record, { reason: 'retries-exhausted' })).toBe(false);
    expect(matchesDltFilter(record, { errorType: 'Error' })).toBe(false);
    expect(matchesDltFilter(record, { since: 1_000, until: 1_001 })).toBe(true);
    expect(matchesDltFilter(record, { since: 1_001 })).toBe(false);
    expect(matchesDltFilter(record, { until: 1_000 })).toBe(false);
  });

  it('report every bad filter value at once, naming it', () => {
    let error: unknown;
    try {
      validateDltFilter({ reason: 'oops', since: 5, until: 5 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems.join('\n');
    expect(problems).toMatch(/"oops" is not a reason code; use one of retries-exhausted/);
    expect(problems).toMatch(/since \(.*\) must be earlier than filter.until/);
  });

  it('parse times as ISO dates, epoch ms or durations back from now', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    expect(parseTimePoint('2025-06-01T11:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseTimePoint('15m', now)).toBe(now - 15 * 60_000);
    expect(parseTimePoint('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseTimePoint('1700000000000', now)).toBe(1_700_000_000_000);
    expect(parseTimePoint('yesterday', now)).toBeUndefined();
    expect(parseTimePoint('2025-13-45', now)).toBeUndefined();
  });

  it('read a record with hostile headers without throwing: last value wins, bad UTF-8 and __proto__ ignored, counts clamped', () => {
    const headers = JSON.parse('{"__proto__": "x"}') as Record<string, unknown>;
    Object.assign(headers, { 'orderly-dlt-reason': ['non-retryable', 'retries-exhausted'], 'orderly-error-type': Buffer.from([0xff, 0xfe]), 'orderly-replay-count': '99999999', 'orderly-attempt': '-3' });
    const record = toDltRecord('t.g.dlt', 1, { offset: '7', key: null, value: null, headers: headers as never, timestamp: 'not a number', attributes: 0 } as never);
    expect(record.reason).toBe('retries-exhausted');
    expect(record.errorType).toBeUndefined();
    expect(record.replayCount).toBe(1_000);
    expect(record.attempts).toBeUndefined();
    expect(record.timestamp).toBe(0);
    expect(record.key).toBeNull();
  });
});
