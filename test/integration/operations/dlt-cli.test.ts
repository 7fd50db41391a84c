/**
 * `orderly topics create`, `dlt list | replay | purge` as child processes against the real stack: a consumer
 * without a ladder dead-letters planned failures; the CLI lists them with reasons and filters; a dry run changes
 * nothing; a wrong --confirm refuses; a confirmed replay is handled in key order by the running consumer; a
 * second replay of a handled event is a no-op; purge deletes only the replayed prefix of each partition.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { NonRetryableError } from '../../../core/errors.ts';
import { RedisIdempotencyStore } from '../../../consumers/idempotency/redis-idempotency-store.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { avroType } from '../../../schemas/avro-type.ts';
import { jsonDecoder } from '../../../schemas/json-decoder.ts';
import { encodeWireFormat } from '../../../schemas/wire-format.ts';
import { testRegistry, testSubject } from '../schemas/registry-helpers.ts';
import { eventually, produce, sequencedEvents, startTestConsumer, testRedis, type SequencedEvent } from '../../support/consumer-harness.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';



interface ListedRecord {
  partition: number;
  offset: string;
  key: string;
  eventId: string;
  reason: string;
  errorType: string;
  attempts: number;
  payload: { format: string; value: unknown };
}

async function listJson(...args: string[]): Promise<ListedRecord[]> {
  const result = await orderly('dlt', 'list', ...args, '--json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as ListedRecord[];
}

const failures: Record<string, () => Error> = {
  'key-0#2': () => new NonRetryableError('card declined'),
  'key-0#3': () => new NonRetryableError('card declined'),
  'key-1#1': () => new Error('ledger unavailable'),
  'key-2#4': () => new NonRetryableError('account closed'),
};

describe('orderly dlt', () => {
  it('lists, replays in key order exactly once, and purges the replayed prefix', async () => {
    const topic = uniqueName('dlt-cli');
    const groupId = testGroupId();
    const admin = await testAdmin();
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [topic, deadLetterTopicOf(topic, groupId)] }).catch(() => undefined);
    });
    const created = await orderly('topics', 'create', topic, '--group', groupId, '--partitions', '2', '--tiers', '0');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`created  ${deadLetterTopicOf(topic, groupId)}`);
    const dltMetadata = await admin.fetchTopicMetadata({ topics: [topic, deadLetterTopicOf(topic, groupId)] });
    expect(dltMetadata.topics.map((entry) => entry.partitions.length)).toEqual([2, 2]);

    // 24 JSON events, and one Avro event the JSON decoder cannot read (a decode-error whose payload the CLI decodes).
    const schema = { type: 'record' as const, name: 'FundsDeposited', namespace: 'orderly.test', fields: [{ name: 'accountId', type: 'string' }, { name: 'amountCents', type: 'long' }] };
    const schemaId = await testRegistry().register(testSubject('dlt-cli'), JSON.stringify(schema));
    const avroValue = encodeWireFormat(schemaId, avroType(schema).toBuffer({ accountId: 'acct-9', amountCents: 1250 }));
    await produce(topic, [...sequencedEvents(24, 6), { key: 'key-avro', value: avroValue, headers: { 'orderly-event-id': 'avro#1' } }]);
    const redis = testRedis();
    let failing = true;
    const effects: string[] = [];
    let deadLettered = 0;
    let duplicates = 0;
    const consumer = startTestConsumer<SequencedEvent>({
      groupId,
      topics: [topic],
      decoder: jsonDecoder as never,
      inPlaceRetries: 0,
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId }),
      handler: async ({ eventId }) => {
        const failure = failures[eventId];
        if (failing && failure) throw failure();
        effects.push(eventId);
      },
    });
    consumer.events.on('consumer.record.dead-lettered', () => deadLettered++);
    consumer.events.on('consumer.record.skipped-duplicate', () => duplicates++);
    const startedAt = Date.now();
    await consumer.start();
    await eventually(() => effects.length + deadLettered >= 25, () => `${effects.length} handled + ${deadLettered} dead-lettered of 25`);
    expect(deadLettered).toBe(5);

    // list: every record with its reason, error, attempts and decoded payload; filters narrow it.
    const listed = await orderly('dlt', 'list', '--topic', topic, '--group', groupId);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.match(/reason non-retryable/g)).toHaveLength(3);
    expect(listed.stdout.match(/reason retries-exhausted/g)).toHaveLength(1);
    expect(listed.stdout).toMatch(/error {2}NON_RETRYABLE: card declined/);
    expect(listed.stdout).toMatch(/payload json \{"key":"key-1","sequence":1\}/);
    expect(listed.stdout).toMatch(/reason decode-error.*\n.*\n {2}payload avro schema \d+ \{"accountId":"acct-9","amountCents":1250\}/);
    expect(listed.stdout).toContain('5 record(s) shown of 5');
    const all = await listJson('--topic', topic, '--group', groupId);
    expect(all.map((record) => record.eventId).sort()).toEqual([...Object.keys(failures), 'avro#1'].sort());
    const byId = new Map(all.map((record) => [record.eventId, record]));
    expect(byId.get('key-1#1')).toMatchObject({ key: 'key-1', reason: 'retries-exhausted', errorType: 'Error', attempts: 1, payload: { format: 'json', value: { key: 'key-1', sequence: 1 } } });
    expect(byId.get('avro#1')).toMatchObject({ reason: 'decode-error', payload: { format: 'avro', schemaId, value: { accountId: 'acct-9', amountCents: 1250 } } });
    expect((await listJson('--topic', topic, '--group', groupId, '--key', 'key-0')).map((record) => record.eventId)).toEqual(['key-0#2', 'key-0#3']);
    expect((await listJson('--topic', topic, '--group', groupId, '--error-type', 'Error')).map((record) => record.eventId)).toEqual(['key-1#1']);
    expect(await listJson('--topic', topic, '--group', groupId, '--reason', 'non-retryable', '--until', String(startedAt))).toEqual([]);
    expect(await listJson('--topic', topic, '--group', groupId, '--reason', 'non-retryable', '--since', String(startedAt), '--limit', '2')).toHaveLength(2);

    // replay: a dry run and a wrong count change nothing.
    const snapshot = async () => JSON.stringify([await admin.fetchTopicOffsets(topic), await admin.fetchTopicOffsets(deadLetterTopicOf(topic, groupId))]);
    const before = await snapshot();
    const dryRun = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout.match(/^would replay .* -> .* p\d$/gm)).toHaveLength(5);
    expect(dryRun.stdout).toContain('dry run: nothing was changed. To replay, run again with --confirm 5');
    const wrongCount = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--confirm', '3');
    expect(wrongCount.code).toBe(1);
    expect(wrongCount.stderr).toMatch(/--confirm 3 does not match the 5 record\(s\) that would be replayed: nothing was changed/);
    expect(await snapshot()).toBe(before);

    // A confirmed replay: the running consumer, now succeeding, handles them in key order.
    failing = false;
    const replayed = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--reason', 'non-retryable', '--confirm', '3', '--rate', '50');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain(`replayed 3: 3 to ${topic}, 0 into parked keys' lanes`);
    await eventually(() => effects.length >= 23, () => `${effects.length} of 23 effects`);
    const afterReplay = effects.slice(20);
    expect(afterReplay.filter((id) => id.startsWith('key-0#'))).toEqual(['key-0#2', 'key-0#3']);
    expect(afterReplay).toContain('key-2#4');

    // Again: skipped unless asked; when asked, a handled event stays done (no second effect); too many replays are refused.
    const skipped = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--key', 'key-0');
    expect(skipped.stdout).toContain('0 record(s) selected of 2 matching');
    expect(skipped.stdout).toContain('2 skipped');
    const again = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--key', 'key-0', '--include-replayed', '--confirm', '2');
    expect(again.code, again.stderr).toBe(0);
    await eventually(() => duplicates >= 2, () => `${duplicates} of 2 duplicates skipped`);
    expect(effects.filter((id) => id === 'key-0#2' || id === 'key-0#3')).toEqual(['key-0#2', 'key-0#3']);
    const refused = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId, '--key', 'key-0', '--include-replayed', '--max-replays', '2');
    expect(refused.stdout.match(/^REFUSED .*replayed 2 time\(s\), --max-replays is 2$/gm)).toHaveLength(2);

    // purge: per partition, the longest prefix of replayed records; key-1#1 and the Avro record were never replayed and stay.
    const expectedPurged = new Set<string>();
    for (const partition of [0, 1]) {
      for (const record of all.filter((candidate) => candidate.partition === partition)) {
        if (record.reason !== 'non-retryable') break;
        expectedPurged.add(record.eventId);
      }
    }
    expect(expectedPurged.size).toBeGreaterThan(0);
    const purgeDryRun = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId);
    expect(purgeDryRun.code, purgeDryRun.stderr).toBe(0);
    expect(purgeDryRun.stdout).toContain(`${expectedPurged.size} replayed record(s) of 5`);
    expect(purgeDryRun.stdout).toMatch(/was not replayed, and Kafka deletes only a prefix|nothing to delete/);
    expect(await listJson('--topic', topic, '--group', groupId)).toHaveLength(5);
    const purged = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId, '--confirm', String(expectedPurged.size));
    expect(purged.code, purged.stderr).toBe(0);
    const left = await listJson('--topic', topic, '--group', groupId);
    expect(left.map((record) => record.eventId).sort()).toEqual(all.map((record) => record.eventId).filter((id) => !expectedPurged.has(id)).sort());
    expect(left.map((record) => record.eventId)).toContain('key-1#1');
  });
});
