/**
 * A limited DLT listing holds a bounded number of records while the whole topic is read: the first `limit` by
 * partition and offset are the same as sorting everything and cutting, and no more than twice `limit` are held.
 */
import { describe, expect, it } from 'vitest';
import type { Admin, Kafka, KafkaMessage } from '../../../core/kafka-client.ts';
import { DltReader } from '../../../operations/dlt-reader.ts';
import { compareDltRecords, type DltRecord } from '../../../operations/dlt-record.ts';
import { FirstDltRecords } from '../../../operations/first-dlt-records.ts';
import { dltRecord } from './dlt-record-fixtures.ts';

/** Records of 3 partitions, visited interleaved as a consumer delivers them. */
function interleaved(perPartition: number): DltRecord[] {
  const records: DltRecord[] = [];
  for (let offset = 0; offset < perPartition; offset++) for (const partition of [2, 0, 1]) records.push(dltRecord(partition, offset, { eventId: `e-${partition}-${offset}` }));
  return records;
}

const positions = (records: readonly DltRecord[]) => records.map((record) => `p${record.partition}@${record.offset}`);

describe('FirstDltRecords', () => {
  it('keeps the first records by partition and offset, holding at most twice the limit', () => {
    const all = interleaved(3_000);
    for (const limit of [1, 7, 100, 20_000]) {
      const first = new FirstDltRecords(limit);
      let most = 0;
      for (const record of all) {
        first.add(record);
        most = Math.max(most, first.held);
      }
      expect(positions(first.result()), `limit ${limit}`).toEqual(positions([...all].sort(compareDltRecords).slice(0, limit)));
      expect(most, `limit ${limit}`).toBeLessThanOrEqual(Math.min(2 * limit, all.length));
    }
  });

  it('keeps everything without a limit', () => {
    const first = new FirstDltRecords(Infinity);
    for (const record of interleaved(50)) first.add(record);
    expect(first.result()).toHaveLength(150);
  });
});

describe('DltReader.readAll', () => {
  it('returns the first `limit` records the filter keeps, over batches of interleaved partitions', async () => {
    const perPartition = 500;
    const admin = {
      listTopics: async () => ['orders.billing.dlt'],
      fetchTopicOffsets: async () => [0, 1, 2].map((partition) => ({ partition, low: '0', high: String(perPartition), offset: String(perPartition) })),
      deleteGroups: async () => undefined,
    } as unknown as Admin;
    const message = (offset: number): KafkaMessage => ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from('{}'), headers: {}, timestamp: '1700000000000', attributes: 0 }) as KafkaMessage;
    const kafka = {
      consumer: () => ({
        connect: async () => undefined,
        subscribe: async () => undefined,
        disconnect: async () => undefined,
        run: async ({ eachBatch }: { eachBatch: (payload: unknown) => Promise<void> }) => {
          setImmediate(async () => {
            for (let from = 0; from < perPartition; from += 50) {
              for (const partition of [2, 1, 0]) {
                const messages = Array.from({ length: 50 }, (_, index) => message(from + index));
                await eachBatch({ batch: { partition, messages, lastOffset: () => String(from + 49) } });
              }
            }
          });
        },
      }),
    } as unknown as Kafka;
    const reader = new DltReader({ kafka, admin, readTimeoutMs: 10_000 });
    const odd = (record: DltRecord) => BigInt(record.offset) % 2n === 1n;
    const { records } = await reader.readAll('orders.billing.dlt', odd, 300);
    expect(records).toHaveLength(300);
    expect(positions(records.slice(0, 2))).toEqual(['p0@1', 'p0@3']);
    expect(positions(records.slice(-2))).toEqual(['p1@97', 'p1@99']);
    expect((await reader.readAll('orders.billing.dlt', odd)).records).toHaveLength(750);
  });
});
