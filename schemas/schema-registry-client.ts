/**
 * A small client for the Confluent schema-registry REST API (Confluent's own, or Apicurio's ccompat API).
 * Built on fetch rather than @kafkajs/confluent-schema-registry so that every failure is classified in one
 * place: the registry's own not-found (404 with 40401/40402/40403) is an answer; an outage (no answer, 5xx,
 * 429) or a 404 that is not the registry's (wrong base URL, a proxy) is a retriable {@link SchemaRegistryError}.
 * Why not the library: docs/schema-registry-client.md.
 */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { SchemaRegistryError } from './schema-registry-error.ts';

/** What the codec needs of a registry; the registry client implements it, tests use a fake. */
export interface SchemaSource {
  /** The schema text of a global id. Throws {@link SchemaRegistryError} (404 when the id is unknown). */
  schemaById(id: number): Promise<string>;
  /** The subjects a global id is registered under. */
  subjectsOfId(id: number): Promise<string[]>;
  /** Checks at start that the source answers as a registry; throws a message naming the fix when it does not. */
  verify?(): Promise<void>;
}

export interface RegisteredSchema {
  subject: string;
  version: number;
  id: number;
  schema: string;
}

export interface SchemaRegistryClientOptions {
  /**
   * Base URL, e.g. `http://127.0.0.1:18081/apis/ccompat/v7` (Apicurio) or `http://registry:8081` (Confluent).
   * Credentials in it (`https://user:password@registry:8081`) are sent as HTTP basic auth and never shown:
   * {@link SchemaRegistryClient.url} and every error name the URL without them.
   */
  url: string;
  /** Time limit of one HTTP request. @defaultValue 10000 ms */
  requestTimeoutMs?: number;
  /** The fetch to use (tests inject one). @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
  /** Where an unreachable or misrouted registry is reported (error level, once per episode). @defaultValue silent */
  logger?: Logger;
}

export const defaultSchemaRegistryClientOptions = { requestTimeoutMs: 10_000 } satisfies Partial<SchemaRegistryClientOptions>;

const optionsSchema = z.object({
  url: z.url('must be an http(s) URL, e.g. http://127.0.0.1:18081/apis/ccompat/v7'),
  requestTimeoutMs: z.number().int().positive('must be a positive number of milliseconds'),
  fetch: z.custom<typeof fetch>((value) => typeof value === 'function', 'must be a fetch function').optional(),
  logger: z.custom<Logger>((value) => typeof (value as Logger | undefined)?.child === 'function', 'must be a pino logger').optional(),
});

export type ValidSchemaRegistryClientOptions = z.output<typeof optionsSchema>;

export function validateSchemaRegistryClientOptions(options: SchemaRegistryClientOptions): ValidSchemaRegistryClientOptions {
  const parsed = optionsSchema.safeParse({ ...defaultSchemaRegistryClientOptions, ...options });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `registry.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

const contentType = 'application/vnd.schemaregistry.v1+json';

export class SchemaRegistryClient implements SchemaSource {
  readonly url: string;
  readonly #options: ValidSchemaRegistryClientOptions;
  readonly #fetch: typeof fetch;
  readonly #authorization: string | undefined;
  readonly #logger: Logger;
  /** Set while the registry does not answer as a registry (no answer, 5xx, 429, a 404 that is not its own). */
  #unavailable: { since: number; reason: string } | undefined;

  constructor(options: SchemaRegistryClientOptions) {
    this.#options = validateSchemaRegistryClientOptions(options);
    const url = new URL(this.#options.url);
    if (url.username || url.password) {
      // fetch refuses a URL with credentials; they travel as a header instead and stay out of messages.
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.#authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.url = url.toString().replace(/\/+$/, '');
    this.#fetch = this.#options.fetch ?? globalThis.fetch;
    this.#logger = componentLogger(this.#options.logger ?? createLogger(), 'schema-registry', { url: this.url });
  }

  /**
   * A `/readyz` check (pass the client to the observability server's `readiness`): not ready while the last
   * answer was an outage or a 404 that is not the registry's (a wrong base URL), ready again after a success.
   */
  readiness(): { ready: boolean; reasons: string[] } {
    if (!this.#unavailable) return { ready: true, reasons: [] };
    const seconds = Math.round((Date.now() - this.#unavailable.since) / 1000);
    return { ready: false, reasons: [`schema registry ${this.url}: ${this.#unavailable.reason} (for ${seconds} s)`] };
  }

  /**
   * Checks the base URL serves the registry API (`GET /config`). Throws a {@link ConfigurationError} naming
   * the URL when something else answers (a 404 that is not the registry's: on Apicurio the URL ends in
   * `/apis/ccompat/v7`), or the retriable {@link SchemaRegistryError} when the registry does not answer.
   */
  async verify(): Promise<void> {
    let body: { compatibilityLevel?: unknown };
    try {
      body = await this.#request<{ compatibilityLevel?: unknown }>('GET', '/config');
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.misrouted) {
        throw new ConfigurationError([`registry.url: ${this.url} does not serve the schema-registry API (${error.message}); on Apicurio the URL ends in /apis/ccompat/v7`]);
      }
      if (error instanceof SchemaRegistryError && !error.retriable) {
        throw new ConfigurationError([`registry.url: ${this.url} refused the registry check (${error.message}): check the URL and its credentials`]);
      }
      throw error;
    }
    if (typeof body.compatibilityLevel !== 'string') {
      throw new ConfigurationError([`registry.url: ${this.url} answered GET /config without a compatibilityLevel: it is not a schema registry (on Apicurio the URL ends in /apis/ccompat/v7)`]);
    }
  }

  async schemaById(id: number): Promise<string> {
    const body = await this.#request<{ schema: string }>('GET', `/schemas/ids/${id}`);
    return body.schema;
  }

  async subjectsOfId(id: number): Promise<string[]> {
    const body = await this.#request<{ subject: string }[]>('GET', `/schemas/ids/${id}/versions`);
    return body.map((entry) => entry.subject);
  }

  /** Registers a schema under a subject (the same schema again gives the same id). */
  async register(subject: string, schema: string): Promise<number> {
    const body = await this.#request<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });
    return body.id;
  }

  /** The id of a schema already registered under a subject; 404 (`notFound`) when it is not. */
  async lookup(subject: string, schema: string): Promise<number> {
    const body = await this.#request<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}`, { schema });
    return body.id;
  }

  /** The latest version of a subject, or undefined when the subject does not exist. */
  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    try {
      return await this.#request<RegisteredSchema>('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.notFound) return undefined;
      throw error;
    }
  }

  /** The registry's own verdict on a schema against the latest version of a subject, under its level. */
  async isCompatible(subject: string, schema: string): Promise<boolean> {
    const body = await this.#request<{ is_compatible: boolean }>(
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
      { schema },
    );
    return body.is_compatible;
  }

  /**
   * The subject's compatibility level; the global level when the subject has none. `defaultToGlobal=true`
   * matters on Apicurio 3.0.9, which answers a plain `GET /config/{subject}` with NONE while it enforces
   * the global level.
   */
  async compatibilityLevel(subject: string): Promise<string> {
    try {
      const body = await this.#request<{ compatibilityLevel: string }>('GET', `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`);
      return body.compatibilityLevel;
    } catch (error) {
      if (!(error instanceof SchemaRegistryError && error.notFound)) throw error;
      return (await this.#request<{ compatibilityLevel: string }>('GET', '/config')).compatibilityLevel;
    }
  }

  async #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    try {
      const answer = await this.#exchange<T>(method, path, body);
      this.#healthy();
      return answer;
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.retriable) this.#unhealthy(error);
      else if (error instanceof SchemaRegistryError) this.#healthy();
      throw error;
    }
  }

  #unhealthy(error: SchemaRegistryError): void {
    if (this.#unavailable) return;
    const reason = error.misrouted
      ? `answered HTTP 404 without a registry error code: the URL is wrong (on Apicurio it ends in /apis/ccompat/v7) or a proxy has no registry behind it`
      : error.status === undefined ? 'no answer' : `answered HTTP ${error.status}`;
    this.#unavailable = { since: Date.now(), reason };
    this.#logger.error({ status: error.status, err: { type: error.code, message: error.message } }, `schema registry unavailable: ${reason}; decoding waits and retries`);
  }

  #healthy(): void {
    if (!this.#unavailable) return;
    this.#logger.info({ unavailableMs: Date.now() - this.#unavailable.since }, 'schema registry answers again');
    this.#unavailable = undefined;
  }

  async #exchange<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const what = `${method} ${path}`;
    let response: Response;
    try {
      const headers: Record<string, string> = body === undefined ? { accept: contentType } : { accept: contentType, 'content-type': contentType };
      if (this.#authorization) headers.authorization = this.#authorization;
      response = await this.#fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs),
      });
    } catch (error) {
      throw new SchemaRegistryError(`the schema registry at ${this.url} did not answer ${what}: ${(error as Error).message}`, undefined, undefined, { cause: error });
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const errorBody = (parsed ?? {}) as { error_code?: unknown; message?: unknown };
      const code = typeof errorBody.error_code === 'number' ? errorBody.error_code : undefined;
      const hint = response.status === 404 && code === undefined ? ` (a 404 without a registry error code: is ${this.url} the registry's base URL? On Apicurio it ends in /apis/ccompat/v7)` : '';
      throw new SchemaRegistryError(
        `the schema registry answered ${what} with HTTP ${response.status}${code ? ` (error ${code})` : ''}: ${typeof errorBody.message === 'string' ? errorBody.message : text.slice(0, 200)}${hint}`,
        response.status,
        code,
      );
    }
    if (parsed === undefined) {
      // A proxy's HTML page, or an empty 200: not the registry talking. Retriable, like an outage.
      throw new SchemaRegistryError(`the schema registry at ${this.url} answered ${what} with HTTP ${response.status} and a body that is not JSON`, response.status, undefined, { retriable: true });
    }
    return parsed as T;
  }
}
