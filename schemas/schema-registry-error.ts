import { OrderlyError, type OrderlyErrorOptions } from '../core/errors.ts';

/**
 * The registry answered with an error, or did not answer. Retriable when the registry is down, times out,
 * or answers 5xx or 429: an outage is never a decode error, and the consumer retries rather than dead-letters.
 */
export class SchemaRegistryError extends OrderlyError {
  /** The HTTP status, or undefined when there was no answer. */
  readonly status: number | undefined;
  /** Confluent's `error_code` (40401 subject not found, 40403 schema not found, 409 incompatible...). */
  readonly registryErrorCode: number | undefined;

  constructor(message: string, status: number | undefined, registryErrorCode: number | undefined, options: OrderlyErrorOptions = {}) {
    super('SCHEMA_REGISTRY', message, { ...options, retriable: status === undefined || status >= 500 || status === 429 });
    this.status = status;
    this.registryErrorCode = registryErrorCode;
  }

  /** 404: no such subject, version or schema (Confluent 40401, 40402, 40403). */
  get notFound(): boolean {
    return this.status === 404;
  }
}
