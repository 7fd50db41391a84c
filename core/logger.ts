import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * The credential paths no log line may show, top-level and one level down (pino `redact` syntax, for an
 * application that builds its own pino logger). {@link createLogger} censors the same paths with
 * {@link redactCredentials} instead of pino's path redaction: a wildcard path cost every line 1-2 µs, and a line
 * with no credential field costs nothing this way (bench/RESULTS.md, overhead).
 */
export const redactedPaths = ['password', '*.password', 'sasl', '*.sasl', 'ssl.key', '*.ssl.key', 'authorization', '*.authorization'] as const;

const censor = '[redacted]';

/** Field names whose whole value is a credential. */
const secretNames: ReadonlySet<string> = new Set(['password', 'sasl', 'authorization']);

/** Whether `value` holds a credential directly: a secret field, or `ssl.key`. */
function holdsSecret(value: object): boolean {
  for (const name in value) {
    if (!Object.hasOwn(value, name)) continue;
    if (secretNames.has(name)) return true;
    if (name === 'ssl') {
      const ssl = (value as Record<string, unknown>).ssl;
      if (typeof ssl === 'object' && ssl !== null && Object.hasOwn(ssl, 'key')) return true;
    }
  }
  return false;
}

/** A copy of `value` with its secret fields censored (one level: `password`, `sasl`, `authorization`, `ssl.key`). */
function censored(value: object): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const name of Object.keys(copy)) {
    if (secretNames.has(name)) copy[name] = censor;
    else if (name === 'ssl' && typeof copy.ssl === 'object' && copy.ssl !== null && Object.hasOwn(copy.ssl, 'key')) copy.ssl = { ...copy.ssl, key: censor };
  }
  return copy;
}

/**
 * A password in free text: a connection string's `scheme://user:password@`, or `password=...` (libpq's
 * keyword form). Error messages and stacks are scanned with it: a driver's error may quote its connection string.
 */
const credentialInText = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@|(\bpassword\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&)]+)/gi;

function scrubText(text: string): string {
  credentialInText.lastIndex = 0;
  if (!credentialInText.test(text)) return text;
  return text.replace(credentialInText, (_match, urlHead: string | undefined, keywordHead: string | undefined) => (urlHead ? `${urlHead}${censor}@` : `${keywordHead}${censor}`));
}

/** How deep {@link scrubbed} looks into a serializer's output or an error (a cycle ends there too). */
const maxDepth = 8;

/**
 * A copy of `value` with every credential censored at any depth (to {@link maxDepth}): secret fields, `ssl.key`,
 * and passwords in the text of an error's `message` and `stack`. Errors become what JSON shows of them (their
 * enumerable fields) unless `errorAsSerialized` (then pino's err serializer first: type, message, stack, cause).
 * Used where lines carry what the cheap one-level look of {@link redactCredentials} cannot see: what a
 * serializer returns, and errors. Returns `value` itself when nothing in it needed censoring.
 */
function scrubbed(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || depth > maxDepth) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const after = scrubbed(item, depth + 1);
      if (after !== item) (copy ??= [...value])[index] = after;
    });
    return copy ?? value;
  }
  // An error becomes a plain copy of its enumerable fields (what JSON shows of it) even with nothing censored.
  const source = value instanceof Error ? errorFields(value) : (value as Record<string, unknown>);
  let copy: Record<string, unknown> | undefined = value instanceof Error ? source : undefined;
  for (const name in source) {
    if (!Object.hasOwn(source, name)) continue;
    const field = source[name];
    let after: unknown;
    if (secretNames.has(name)) after = censor;
    else if (name === 'ssl' && typeof field === 'object' && field !== null && Object.hasOwn(field, 'key')) after = { ...(scrubbed(field, depth + 1) as object), key: censor };
    else if ((name === 'message' || name === 'stack') && typeof field === 'string') after = scrubText(field);
    else after = scrubbed(field, depth + 1);
    if (after !== field) (copy ??= { ...source })[name] = after;
  }
  return copy ?? value;
}

/** An error as JSON would show it (its enumerable fields), with its message and stack scanned too when set. */
function errorFields(error: Error): Record<string, unknown> {
  return { ...(error as unknown as Record<string, unknown>) };
}

/** pino's err serializer (type, message and stack with their causes, enumerable fields), then {@link scrubbed}. */
function serializeError(error: unknown): unknown {
  return scrubbed(pino.stdSerializers.err(error as Error));
}

/** A serializer whose output is {@link scrubbed}. */
function censoring<V>(serializer: (value: V) => unknown): (value: V) => unknown {
  return (value) => scrubbed(serializer(value));
}

function censoringAll(serializers: Record<string, (value: never) => unknown>): Record<string, (value: never) => unknown> {
  return Object.fromEntries(Object.entries(serializers).map(([name, serializer]) => [name, censoring(serializer)]));
}

/**
 * The fields of a log line (or a child logger's bindings) with every credential of {@link redactedPaths}
 * replaced by `[redacted]`: `password`, `sasl`, `authorization` and `ssl.key`, top-level and one level down;
 * an error (under any name but the err key, which its serializer censors) at any depth, with passwords in its
 * message and stack. The object itself is never changed; when it holds no credential it is returned as is,
 * after one look at each field (no copy, no path walk: what a line costs when it has none, which is every line
 * Orderly writes).
 */
export function redactCredentials<T extends object>(fields: T, errorKey = 'err'): T {
  let result: Record<string, unknown> | undefined;
  for (const name in fields) {
    if (!Object.hasOwn(fields, name)) continue;
    const value = (fields as Record<string, unknown>)[name];
    let replaced: unknown = value;
    if (secretNames.has(name)) replaced = censor;
    else if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) {
      if (value instanceof Error || Array.isArray(value)) {
        // The err key's serializer censors it (message and stack included); elsewhere JSON shows its fields.
        if (name !== errorKey) replaced = scrubbed(value, 1);
        if (name === 'ssl' && Object.hasOwn(value, 'key')) replaced = { ...(replaced as object), key: censor };
      } else {
        if (holdsSecret(value)) replaced = censored(value);
        if (name === 'ssl' && Object.hasOwn(value, 'key')) replaced = { ...(replaced as object), key: censor };
        if (replaced === value && holdsError(value)) replaced = scrubbed(value, 1);
      }
    }
    if (replaced !== value) (result ??= { ...(fields as Record<string, unknown>) })[name] = replaced;
  }
  return (result ?? fields) as T;
}

/** Whether a field of `value` is an error (one level: censored at any depth by {@link scrubbed}). */
function holdsError(value: object): boolean {
  for (const name in value) {
    if (Object.hasOwn(value, name) && (value as Record<string, unknown>)[name] instanceof Error) return true;
  }
  return false;
}

type ChildOptions = NonNullable<Parameters<Logger['child']>[1]>;

/** A child's own serializers and log formatter would bypass the root's censoring: they are wrapped in it. */
function censoringChildOptions(options: ChildOptions | undefined, errorKey: string): ChildOptions | undefined {
  if (!options || (!options.serializers && !options.formatters)) return options;
  const result: ChildOptions = { ...options };
  if (options.serializers) result.serializers = censoringAll(options.serializers as Record<string, (value: never) => unknown>) as ChildOptions['serializers'];
  if (options.formatters) {
    const { log, bindings } = options.formatters;
    result.formatters = {
      ...options.formatters,
      ...(log ? { log: (fields: object) => redactCredentials(log(fields), errorKey) } : {}),
      ...(bindings ? { bindings: (given: Parameters<typeof bindings>[0]) => redactCredentials(bindings(given), errorKey) } : {}),
    };
  }
  return result;
}

/**
 * A pino logger that is silent unless a level is given (a library does not talk unless asked); it writes to
 * `destination` (e.g. `pino.destination(file)`) when given, else to stdout. Credentials never reach a line,
 * whatever a caller logs or binds: {@link redactCredentials} on every line's fields and every binding, and
 * {@link scrubbed} on what every serializer returns (pino's err serializer included: an error's fields,
 * message, stack and causes), for the root and every child, whatever formatters or serializers a child brings.
 * Payloads are never logged in the first place: components log the fixed fields of docs/guarantees.md only.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const given = options.formatters;
  const errorKey = options.errorKey ?? 'err';
  const loggerOptions: LoggerOptions = {
    level: 'silent',
    ...options,
    serializers: { [errorKey]: serializeError, ...censoringAll((options.serializers ?? {}) as Record<string, (value: never) => unknown>) } as LoggerOptions['serializers'],
    formatters: {
      ...given,
      log: (fields) => redactCredentials(given?.log ? given.log(fields) : fields, errorKey),
      bindings: (bindings) => redactCredentials(given?.bindings ? given.bindings(bindings) : bindings, errorKey),
    },
  };
  const logger = destination ? pino(loggerOptions, destination) : pino(loggerOptions);
  // pino applies the bindings formatter to the root's bindings only: a child's bindings are censored here
  // (children are made from their parent's prototype, so every descendant has this `child`).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactCredentials(bindings, errorKey), censoringChildOptions(childOptions, errorKey));
  } as Logger['child'];
  return logger;
}

/** A child logger bound to one component, as every Orderly component uses. */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}
