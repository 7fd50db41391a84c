/** The stack uses an existing PostgreSQL: `DATABASE_URL`, else the machine's local server. */
import pg from 'pg';
import { OrderlyError } from '../../core/errors.ts';

export const localDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/test';

export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function requirePostgres(url: string): Promise<void> {
  if (await postgresAnswers(url)) return;
  throw new OrderlyError(
    'STACK_UNAVAILABLE',
    `PostgreSQL does not answer at ${redactUrl(url)}: start the local server ` +
      "(Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL.",
  );
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
