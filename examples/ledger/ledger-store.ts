/**
 * Where the demo keeps its ledger: PostgreSQL (a schema per topic and group) or an embedded SQLite file.
 * Tables: `demo_published` (what the producer sent), `accounts(account_id, balance)`,
 * `ledger_applied(event_id UNIQUE, account_id, sequence, amount_minor, applied_at)` and the inbox
 * `orderly_inbox`. Balances and amounts are in minor units (cents); times are epoch ms in memory.
 */
import { createHash } from 'node:crypto';
import type { EventHandler } from '../../consumers/options.ts';
import type { DemoInboxMode } from './demo-options.ts';
import type { AccountPlan, Fault, LedgerEventType, PublishedLedgerEvent } from './ledger-events.ts';
import type { AccountsLedgerValue } from './ledger-event-types.ts';

export interface AppliedLedgerRow {
  /** Increases in commit order for one account (its events are applied one after another). */
  appliedId: number;
  eventId: string;
  accountId: string;
  sequence: number;
  amountMinor: number;
  /** Epoch ms. */
  appliedAt: number;
}

export interface PublishedLedgerRow {
  eventId: string;
  accountId: string;
  sequence: number;
  type: LedgerEventType;
  amountMinor: number;
  fault: Fault;
  /** Epoch ms. */
  occurredAt: number;
  runId: string;
  /** A delayed event's due time, epoch ms; undefined when not delayed. */
  dueAt?: number;
}

export interface AccountRow {
  accountId: string;
  /** Minor units (cents). */
  balance: number;
}

export interface LedgerSnapshot {
  published: PublishedLedgerRow[];
  applied: AppliedLedgerRow[];
  accounts: AccountRow[];
}

export interface LedgerStore {
  /** Where the data is, for people: `PostgreSQL schema ledger_x` or `SQLite file /path`. */
  readonly description: string;
  /** Creates the tables if missing (safe to call from several processes at once). */
  setup(): Promise<void>;
  /** Per account, the last published sequence and the published balance. */
  accountPlans(): Promise<Map<string, AccountPlan>>;
  recordPublished(events: readonly PublishedLedgerEvent[]): Promise<void>;
  /**
   * The handler that applies an event to its balance through the transactional inbox of `groupId`: in batches
   * (group commit) or one transaction per event (see {@link DemoInboxMode}; a store may support only one).
   */
  applier(groupId: string, inbox?: DemoInboxMode): EventHandler<AccountsLedgerValue>;
  /** Rows published and applied so far (cheap enough to poll once a second). */
  counts(): Promise<{ published: number; applied: number }>;
  snapshot(): Promise<LedgerSnapshot>;
  close(): Promise<void>;
}

/** A SQL identifier for a topic and group: `ledger_<topic>__<group>`, hashed when longer than 60 characters. */
export function ledgerNamespaceOf(topic: string, group: string): string {
  const plain = `ledger_${topic}__${group}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (plain.length <= 60) return plain;
  const hash = createHash('sha256').update(`${topic}\u0000${group}`).digest('hex').slice(0, 10);
  return `${plain.slice(0, 49)}_${hash}`;
}
