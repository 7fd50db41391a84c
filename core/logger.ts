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
 * The fields of a log line (or a child logger's bindings) with every credential of {@link redactedPaths}
 * replaced by `[redacted]`: `password`, `sasl`, `authorization` and `ssl.key`, top-level and one level down.
 * The object itself is never changed; when it holds no credential it is returned as is, after one look at
 * each field (no copy, no path walk: what a line costs when it has none, which is every line Orderly writes).
 */
export function redactCredentials<T extends object>(fields: T): T {
  let result: Record<string, unknown> | undefined;
  for (const name in fields) {
    if (!Object.hasOwn(fields, name)) continue;
    const value = (fields as Record<string, unknown>)[name];
    let replaced: unknown = value;
    if (secretNames.has(name)) replaced = censor;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Error) && !Buffer.isBuffer(value)) {
      if (holdsSecret(value)) replaced = censored(value);
      if (name === 'ssl' && Object.hasOwn(value, 'key')) replaced = { ...(replaced as object), key: censor };
    }
    if (replaced !== value) (result ??= { ...(fields as Record<string, unknown>) })[name] = replaced;
  }
  return (result ?? fields) as T;
}

/**
 * A pino logger that is silent unless a level is given (a library does not talk unless asked); it writes to
 * `destination` (e.g. `pino.destination(file)`) when given, else to stdout. Credentials never reach a line,
 * whatever a caller logs or binds ({@link redactCredentials}); payloads are never logged in the first place:
 * components log the fixed fields of docs/guarantees.md only.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const given = options.formatters;
  const loggerOptions: LoggerOptions = {
    level: 'silent',
    ...options,
    formatters: {
      ...given,
      log: (fields) => redactCredentials(given?.log ? given.log(fields) : fields),
      bindings: (bindings) => redactCredentials(given?.bindings ? given.bindings(bindings) : bindings),
    },
  };
  const logger = destination ? pino(loggerOptions, destination) : pino(loggerOptions);
  // pino applies the bindings formatter to the root's bindings only: a child's bindings are censored here
  // (children are made from their parent's prototype, so every descendant has this `child`).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactCredentials(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** A child logger bound to one component, as every Orderly component uses. */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}
