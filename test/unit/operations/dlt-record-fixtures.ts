/** DLT records for unit tests, built as a consumer would have forwarded them. */
import type { KafkaMessage } from '../../../core/kafka-client.ts';
import { toDltRecord, type DltRecord } from '../../../operations/dlt-record.ts';

export function dltRecord(partition: number, offset: number, overrides: { key?: string; eventId?: string; reason?: string; errorType?: string; timestamp?: number; replayCount?: number; value?: Buffer | null } = {}): DltRecord {
  const headers: Record<string, string> = {
    'orderly-dlt-reason': overrides.reason ?? 'retries-exhausted',
    'orderly-error-type': overrides.errorType ?? 'Error',
    'orderly-error-message': 'planned failure',
    'orderly-error-stack': 'Error: planned failure\n    at handler',
    'orderly-error-fingerprint': 'abc',
    'orderly-attempt': '3',
    'orderly-first-failure-at': '1700000000000',
    'orderly-original-topic': 'orders',
    'orderly-original-partition': String(partition),
    'orderly-original-offset': String(offset * 10),
    'orderly-original-timestamp': '1700000000000',
    'orderly-consumer-group': 'billing',
    'orderly-event-type': 'OrderPlaced',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
  if (overrides.eventId !== undefined) headers['orderly-event-id'] = overrides.eventId;
  if (overrides.replayCount !== undefined) headers['orderly-replay-count'] = String(overrides.replayCount);
  return toDltRecord('orders.billing.dlt', partition, {
    offset: String(offset),
    key: Buffer.from(overrides.key ?? 'key-1'),
    value: overrides.value === undefined ? Buffer.from('{"amount":1}') : overrides.value,
    headers,
    timestamp: String(overrides.timestamp ?? 1_700_000_100_000),
    attributes: 0,
  } as KafkaMessage);
}
