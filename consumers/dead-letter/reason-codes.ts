/** Why a record went to the dead-letter topic: a fixed list, carried in `orderly-dlt-reason`. */
export const deadLetterReasons = [
  'retries-exhausted',
  'non-retryable',
  'decode-error',
  'schema-not-found',
  'missing-key',
  'handler-timeout',
  'predecessor-dead-lettered',
  'id-conflict',
  'expired',
  /** The broker rejected every forward of the record (too large, invalid): its reduced form is in the DLT. */
  'forward-rejected',
] as const;

export type DeadLetterReason = (typeof deadLetterReasons)[number];
