/**
 * One base error for everything Orderly throws, with a stable `code` to branch on (never `e.name`).
 * The codes are a `const` tuple so the union type follows from the list.
 */
export const errorCodes = [
  'CONFIGURATION',
  'STACK_UNAVAILABLE',
  'STACK_START_FAILED',
  'KAFKA',
  'TIMEOUT',
  'MISSING_KEY',
  'DECODE',
  'ENCODE',
  'SCHEMA_REGISTRY',
  'BACKPRESSURE',
  'RETRYABLE',
  'NON_RETRYABLE',
  'HANDLER_TIMEOUT',
  'IDEMPOTENCY',
  'ID_CONFLICT',
  'FENCED',
  'STOPPED',
  'UNDECODABLE_BATCH',
  'CLIENT_CRASHED',
  'UNKNOWN_EVENT_TYPE',
  'CLIENT_STALLED',
  'INSTANCE_FENCED',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** Where an error happened, when it concerns one record or partition. */
export interface ErrorContext {
  topic?: string;
  partition?: number;
  /** Kafka offsets are 64-bit: always a string. */
  offset?: string;
  key?: string;
  [name: string]: unknown;
}

export interface OrderlyErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  context?: ErrorContext;
}

export class OrderlyError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: OrderlyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }
}

/** A setting is wrong. The message names every bad value and how to fix it. */
export class ConfigurationError extends OrderlyError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: OrderlyErrorOptions = {}) {
    super('CONFIGURATION', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, options);
    this.problems = problems;
  }
}

/** A handler says: this failed, try again later (no error-level log). */
export class RetryableError extends OrderlyError {
  constructor(message: string, options: Omit<OrderlyErrorOptions, 'retriable'> = {}) {
    super('RETRYABLE', message, { ...options, retriable: true });
  }
}

/** A handler says: this will never succeed; send it straight to the dead-letter topic. */
export class NonRetryableError extends OrderlyError {
  constructor(message: string, options: Omit<OrderlyErrorOptions, 'retriable'> = {}) {
    super('NON_RETRYABLE', message, { ...options, retriable: false });
  }
}

/** The same event id arrived with another payload: not a duplicate, a conflict for the DLT (`id-conflict`). */
export class IdConflictError extends OrderlyError {
  constructor(message: string, options: Omit<OrderlyErrorOptions, 'retriable'> = {}) {
    super('ID_CONFLICT', message, { ...options, retriable: false });
  }
}

/**
 * An event of a type the handler has no case for (the typed router, `route`): it will never succeed here, so
 * it goes straight to the DLT as `unknown-event-type`, and the events after it go on.
 */
export class UnknownEventTypeError extends OrderlyError {
  readonly eventType: string | undefined;

  constructor(eventType: string | undefined, known: readonly string[], options: Omit<OrderlyErrorOptions, 'retriable'> = {}) {
    const what = eventType === undefined ? 'an event without a type (no orderly-event-type header)' : `event type ${JSON.stringify(eventType.slice(0, 200))}`;
    super('UNKNOWN_EVENT_TYPE', `no handler case for ${what}; the cases are ${known.join(', ')}`, { ...options, retriable: false });
    this.eventType = eventType;
  }
}
