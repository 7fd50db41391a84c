import { ConfigurationError } from '../../core/errors.ts';
import { ledgerNamespaceOf, type LedgerStore } from './ledger-store.ts';
import { PostgresLedgerStore } from './postgres-ledger-store.ts';
import { SqliteLedgerStore } from './sqlite-ledger-store.ts';

/**
 * Opens the demo database: `postgres://...` (or `postgresql://`) for PostgreSQL, with the tables in the schema
 * of the topic and group; `sqlite:<file>` for an embedded SQLite file.
 * @param poolSize PostgreSQL connections at most (a worker holds one per handler in flight).
 */
export function openLedgerStore(database: string, topic: string, group: string, poolSize?: number): LedgerStore {
  if (/^postgres(ql)?:\/\//.test(database)) return new PostgresLedgerStore(database, ledgerNamespaceOf(topic, group), poolSize);
  if (database.startsWith('sqlite:') && database.length > 'sqlite:'.length) return new SqliteLedgerStore(database.slice('sqlite:'.length));
  throw new ConfigurationError([`--database ${database.replace(/\/\/[^@/]*@/, '//***@')}: must be a postgres:// URL or sqlite:<file>`]);
}
