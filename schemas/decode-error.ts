import { OrderlyError, type OrderlyErrorOptions } from '../core/errors.ts';

/**
 * Why a record's value could not be decoded. Each is non-retryable except `schema-not-found`, which the
 * codec retries a bounded number of times first (the registry may lag behind a producer).
 */
export const decodeReasons = [
  'empty-value',
  'too-short',
  'bad-magic-byte',
  'schema-not-found',
  'subject-mismatch',
  'truncated',
  'trailing-bytes',
  'limit-exceeded',
  'forbidden-key',
  'forbidden-field',
  'invalid-json',
  'invalid-data',
] as const;

export type DecodeReason = (typeof decodeReasons)[number];

/** The one error type a decoder throws; the consumer sends the record to the DLT with its reason. */
export class DecodeError extends OrderlyError {
  readonly reason: DecodeReason;

  constructor(reason: DecodeReason, message: string, options: OrderlyErrorOptions = {}) {
    super('DECODE', message, { ...options, retriable: false });
    this.reason = reason;
  }
}
