import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with `[redacted]`. Credentials never reach a log line, whatever a caller binds.
 * Payloads are never logged in the first place: components log the fixed fields of DESIGN.md only.
 */
export const redactedPaths = [
  'password',
  '*.password',
  'sasl.password',
  '*.sasl.password',
  'sasl',
  '*.sasl',
  'ssl.key',
  '*.ssl.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
] as const;

/** A pino logger that is silent unless a level is given (a library does not talk unless asked). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    level: 'silent',
    ...options,
    redact: { paths: [...redactedPaths], censor: '[redacted]' },
  });
}

/** A child logger bound to one component, as every Orderly component uses. */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}
