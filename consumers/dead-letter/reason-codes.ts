/** Why a record went to the dead-letter topic: the fixed list of docs/guarantees.md, carried in `orderly-dlt-reason`. */
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
] as const;

export type DeadLetterReason = (typeof deadLetterReasons)[number];
