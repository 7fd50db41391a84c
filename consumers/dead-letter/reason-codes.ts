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
  /** A stub for a record batch that could not be decoded, written when `skipUndecodableBatches` moves past it. */
  'undecodable-batch',
  /** The broker rejected every forward of the record (too large, invalid): its reduced form is in the DLT. */
  'forward-rejected',
  /** The handler has no case for the event's type (the typed router, `route`): `UnknownEventTypeError`. */
  'unknown-event-type',
] as const;

export type DeadLetterReason = (typeof deadLetterReasons)[number];
