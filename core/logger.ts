import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with `[redacted]`. Credentials never reach a log line, whatever a caller binds.
 * Payloads are never logged in the first place: components log the fixed fields of docs/guarantees.md only.
 * No path lies under another (`sasl.password` under `sasl`, `headers.authorization` under `*.authorization`):
 * each path costs every line that is written, about 1-2 µs per wildcard path (bench/RESULTS.md, overhead).
 */
export const redactedPaths = ['password', '*.password', 'sasl', '*.sasl', 'ssl.key', '*.ssl.key', 'authorization', '*.authorization'] as const;

/**
 * A pino logger that is silent unless a level is given (a library does not talk unless asked); it writes to
 * `destination` (e.g. `pino.destination(file)`) when given, else to stdout.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const loggerOptions: LoggerOptions = { level: 'silent', ...options, redact: { paths: [...redactedPaths], censor: '[redacted]' } };
  return destination ? pino(loggerOptions, destination) : pino(loggerOptions);
}

/** A child logger bound to one component, as every Orderly component uses. */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}
