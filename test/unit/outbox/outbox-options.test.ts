/** Outbox options, table names and key hashing: every bad setting named at once; a key's hash and shard are stable. */
import { describe, expect, it } from 'vitest';
import { outboxKeyHash, outboxShardOf } from '../../../outbox/key-hash.ts';
import { validateOutboxRelayOptions, validateOutboxWriterOptions } from '../../../outbox/outbox-options.ts';
import { outboxShardCount, outboxTableNames } from '../../../outbox/outbox-table.ts';

describe('outbox options', () => {
  it('reports every invalid relay option in one error, named', () => {
    expect(() => validateOutboxRelayOptions({ pool: {} as never, producer: {} as never, kafka: {} as never, batchSize: 0, concurrency: 99, claimTimeoutMs: 10 })).toThrowError(
      /outboxRelay\.pool[\s\S]*outboxRelay\.producer[\s\S]*outboxRelay\.kafka[\s\S]*outboxRelay\.batchSize[\s\S]*outboxRelay\.concurrency[\s\S]*outboxRelay\.claimTimeoutMs/,
    );
  });

  it('refuses a writer without a registry client and an oversized payload bound', () => {
    expect(() => validateOutboxWriterOptions({ registry: {} as never, maxPayloadBytes: 0 })).toThrowError(/outboxWriter\.registry[\s\S]*outboxWriter\.maxPayloadBytes/);
  });

  it('accepts table and schema.table of plain identifiers only (they are put into SQL)', () => {
    expect(outboxTableNames('orderly_outbox')).toMatchObject({ table: 'orderly_outbox', shards: 'orderly_outbox_shards', channel: 'orderly_outbox_notify', notifyFunction: 'orderly_outbox_notify' });
    expect(outboxTableNames('app.events_out')).toMatchObject({ table: 'app.events_out', shards: 'app.events_out_shards', channel: 'app__events_out_notify', notifyFunction: 'app.events_out_notify', bare: 'events_out' });
    const long = outboxTableNames(`${'s'.repeat(60)}.orderly_outbox`);
    expect(long.channel).toMatch(/^outbox_[0-9a-f]{24}_notify$/);
    for (const bad of ['', 'Outbox', 'a.b.c', 'x; drop table y', 'a-b', `t${'x'.repeat(48)}`, `${'s'.repeat(64)}.t`]) expect(() => outboxTableNames(bad), bad).toThrowError(/outbox\.table/);
  });
});

describe('outbox key hash', () => {
  it('is FNV-1a of topic, a zero byte and the key: stable across processes, and spreads keys over every shard', () => {
    expect(outboxKeyHash('t', Buffer.from('k'))).toBe(outboxKeyHash('t', Buffer.from('k')));
    expect(outboxKeyHash('t', Buffer.from('k'))).not.toBe(outboxKeyHash('tk', Buffer.alloc(0)));
    expect(outboxKeyHash('', Buffer.alloc(0))).toBe(0x050c5d1f | 0); // FNV-1a of the single zero byte
    const shards = new Set(Array.from({ length: 2_000 }, (_, index) => outboxShardOf(outboxKeyHash('accounts', Buffer.from(`account-${index}`)), outboxShardCount)));
    expect(shards.size).toBe(outboxShardCount);
    for (const shard of shards) expect(shard >= 0 && shard < outboxShardCount).toBe(true);
  });
});
