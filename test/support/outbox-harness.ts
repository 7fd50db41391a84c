/**
 * Shared by the outbox tests, the outbox chaos scenario and the outbox bench: a unique outbox table (dropped
 * after), the probe schema, and a reader that collects a topic's records with their envelope.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { Kafka } from '../../core/kafka-client.ts';
import { readEnvelope } from '../../producers/envelope-headers.ts';
import { outboxTableNames } from '../../outbox/outbox-table.ts';
import { AvroCodec } from '../../schemas/avro-codec.ts';
import type { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import type { Schema } from '../../schemas/avro-type.ts';

export const outboxProbeSchema: Schema = {
  type: 'record',
  name: 'OutboxProbe',
  namespace: 'orderly.test',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'long' },
  ],
};

export interface OutboxProbe {
  key: string;
  sequence: number;
}

export function uniqueOutboxTable(prefix = 'outbox_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export async function dropOutboxTable(pool: Pool, table: string): Promise<void> {
  const names = outboxTableNames(table);
  await pool.query(`drop table if exists ${names.table}, ${names.shards}`);
  await pool.query(`drop function if exists ${names.notifyFunction}()`);
}

export interface LandedRecord {
  key: string;
  eventId: string;
  eventType: string | undefined;
  value: OutboxProbe;
  partition: number;
  offset: string;
}

/**
 * Reads `topic` from the beginning until `done(records)` or `timeoutMs`; returns what it read, in per-partition
 * order (per key, the order the broker has).
 */
export async function readTopic(kafka: Kafka, registry: SchemaRegistryClient, topic: string, done: (records: LandedRecord[]) => boolean, timeoutMs: number): Promise<LandedRecord[]> {
  const consumer = kafka.consumer({ groupId: `outbox-reader-${randomBytes(4).toString('hex')}`, maxBytes: 10_485_760 });
  const codec = new AvroCodec<OutboxProbe>({ source: registry });
  const records: LandedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const value = await codec.decode(message.value, { topic, partition: batch.partition, offset: message.offset });
              const envelope = readEnvelope(message.headers);
              records.push({ key: message.key!.toString(), eventId: envelope.eventId ?? '', eventType: envelope.eventType, value: { key: value.key, sequence: Number(value.sequence) }, partition: batch.partition, offset: message.offset });
            }
            if (done(records)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

export interface OrderCheck {
  /** (key, sequence) pairs expected and never read. */
  lost: number;
  /** Records read twice or more with the same event id (allowed: consumers drop them by id). */
  duplicatesSameId: number;
  /** One (key, sequence) under two event ids (never allowed). */
  duplicatesNewId: number;
  /** Per key, after dropping repeated ids, a sequence that is not the previous one + 1. */
  orderViolations: number;
  /** Read and not expected. */
  unexpected: number;
}

/** Checks the records against `expected` (per key, sequences 1..n). */
export function checkOrder(records: readonly LandedRecord[], expected: ReadonlyMap<string, number>): OrderCheck {
  const seenIds = new Set<string>();
  const idOf = new Map<string, string>();
  const last = new Map<string, number>();
  const check: OrderCheck = { lost: 0, duplicatesSameId: 0, duplicatesNewId: 0, orderViolations: 0, unexpected: 0 };
  for (const record of records) {
    if (seenIds.has(record.eventId)) {
      check.duplicatesSameId++;
      continue;
    }
    seenIds.add(record.eventId);
    const slot = `${record.value.key}#${record.value.sequence}`;
    if (idOf.has(slot)) {
      check.duplicatesNewId++;
      continue;
    }
    idOf.set(slot, record.eventId);
    if (record.value.sequence > (expected.get(record.value.key) ?? 0)) check.unexpected++;
    if (record.value.sequence !== (last.get(record.value.key) ?? 0) + 1) check.orderViolations++;
    last.set(record.value.key, Math.max(record.value.sequence, last.get(record.value.key) ?? 0));
  }
  for (const [key, count] of expected) for (let sequence = 1; sequence <= count; sequence++) if (!idOf.has(`${key}#${sequence}`)) check.lost++;
  return check;
}
