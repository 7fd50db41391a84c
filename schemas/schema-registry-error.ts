import { OrderlyError, type OrderlyErrorOptions } from '../core/errors.ts';

/** The registry's own `error_code`s for "no such thing": subject (40401), version (40402), schema (40403). */
export const registryNotFoundCodes: readonly number[] = [40401, 40402, 40403];

/**
 * The registry answered with an error, or did not answer. Retriable when the registry is down, times out,
 * answers 5xx or 429, or answers 404 without a registry `error_code` (a wrong base URL, or a proxy with no
 * registry behind it during a deploy): none of those says anything about the record, so the consumer waits
 * rather than dead-letters. Only a 404 carrying 40401/40402/40403 means "not found" ({@link notFound}).
 */
export class SchemaRegistryError extends OrderlyError {
  /** The HTTP status, or undefined when there was no answer. */
  readonly status: number | undefined;
  /** Confluent's `error_code` (40401 subject not found, 40403 schema not found, 409 incompatible...). */
  readonly registryErrorCode: number | undefined;

  constructor(message: string, status: number | undefined, registryErrorCode: number | undefined, options: OrderlyErrorOptions = {}) {
    const misrouted = status === 404 && !registryNotFoundCodes.includes(registryErrorCode ?? 0);
    super('SCHEMA_REGISTRY', message, { ...options, retriable: options.retriable ?? (status === undefined || status >= 500 || status === 429 || misrouted) });
    this.status = status;
    this.registryErrorCode = registryErrorCode;
  }

  /** The registry itself says the subject, version or schema does not exist (404 with 40401, 40402 or 40403). */
  get notFound(): boolean {
    return this.status === 404 && registryNotFoundCodes.includes(this.registryErrorCode ?? 0);
  }

  /**
   * A 404 that is not the registry's: the base URL does not serve the registry API (a Confluent-style path on
   * Apicurio, which needs `/apis/ccompat/v7`), or something in front of the registry answered. Retriable.
   */
  get misrouted(): boolean {
    return this.status === 404 && !this.notFound;
  }
}
