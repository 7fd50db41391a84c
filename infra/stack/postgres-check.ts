/** The stack uses an existing PostgreSQL: `DATABASE_URL`, else the machine's local server. */
import pg from 'pg';
import { OrderlyError } from '../../core/errors.ts';

export const localDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/test';

export async function postgresAnswers(url: string): Promise<boolean> {
  return (await postgresProblem(url)) === undefined;
}

/** Why PostgreSQL does not answer (its own message: refused, too many clients, ...), or undefined when it does. */
async function postgresProblem(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message || (error as Error).name;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Fails unless PostgreSQL answers within a few tries (a loaded server, or one at its connection limit for a
 * moment, is not a missing one).
 */
export async function requirePostgres(url: string, { attempts = 5, pauseMs = 2_000 } = {}): Promise<void> {
  let problem: string | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    problem = await postgresProblem(url);
    if (problem === undefined) return;
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new OrderlyError(
    'STACK_UNAVAILABLE',
    `PostgreSQL does not answer at ${redactUrl(url)} (${redactCredentialsIn(problem ?? 'no answer', url)}): start the local server ` +
      "(Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL.",
  );
}

/** The driver's message, without the URL's password should it quote it. */
function redactCredentialsIn(message: string, url: string): string {
  try {
    const { password } = new URL(url);
    return password ? message.split(decodeURIComponent(password)).join('redacted') : message;
  } catch {
    return message;
  }
}

/** A connection URL with its password replaced, fit for a log line or an error message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}
