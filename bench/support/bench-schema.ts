/**
 * The Avro event the producer and consumer benches send: a deposit with a memo that pads each value to ~1 KB.
 */
import { avroType } from '../../schemas/avro-type.ts';

export const benchEventSchema = {
  type: 'record',
  name: 'BenchDeposited',
  namespace: 'orderly.bench',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'sequence', type: 'long' },
    { name: 'amountMinor', type: 'long' },
    { name: 'currency', type: 'string' },
    { name: 'memo', type: 'string' },
  ],
} as const;

export const benchEventType = avroType(benchEventSchema as never);

/** 996 characters: with the other fields and the 5-byte wire-format prefix, a value of about 1,024 bytes. */
export const benchMemo = 'x'.repeat(996);
