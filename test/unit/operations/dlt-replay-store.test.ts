import { describe, expect, it } from 'vitest';
import { dltRecordIdentityOf } from '../../../operations/dlt-replay-store.ts';
import { dltRecord } from './dlt-record-fixtures.ts';

describe('dltRecordIdentityOf', () => {
  it('is the offset plus a digest of what was written there: same record, same identity; a recreated topic\'s record differs', () => {
    const record = dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_000 });
    expect(dltRecordIdentityOf(record)).toMatch(/^7:[0-9a-f]{16}$/);
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_000 }))).toBe(dltRecordIdentityOf(record));
    // The same event dead-lettered again into a recreated DLT, at the same offset: written at another time.
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', timestamp: 1_700_000_100_001 }))).not.toBe(dltRecordIdentityOf(record));
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e2', timestamp: 1_700_000_100_000 }))).not.toBe(dltRecordIdentityOf(record));
    expect(dltRecordIdentityOf(dltRecord(0, 7, { eventId: 'e1', key: 'key-2', timestamp: 1_700_000_100_000 }))).not.toBe(dltRecordIdentityOf(record));
  });
});
