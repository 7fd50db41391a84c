/**
 * How the CLI prints an error that is not an OrderlyError: its name, message and stack only (never the
 * object's other properties, which may hold a client's configuration), with any credentials in a URL
 * (`scheme://user:password@host`) replaced and control characters escaped (a message may quote a record).
 */
import { terminalSafeLines } from './terminal-text.ts';

const credentialsInUrl = /([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi;

export function redactCredentials(text: string): string {
  return text.replace(credentialsInUrl, '$1redacted@');
}

export function describeUnexpected(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return `orderly: unexpected error: ${terminalSafeLines(redactCredentials(text))}`;
}
