/**
 * The ledger's events and how the demo builds them: per account, sequence 1 is `AccountOpened`, then deposits
 * and withdrawals (a withdrawal never takes more than the published balance). Deposits alternate between the
 * v1 and v2 schema of `FundsDeposited`, so the workers read both through one reader schema.
 *
 * Faults are marked on the event, in the header `ledger-demo-fault` (kept through retries and onto the DLT):
 * `transient:<n>` fails the handler's first n attempts (n = 1..4: 1 and 2 recover in place, 3 and 4 climb to
 * the first retry tier), `poison` fails every attempt (dead-lettered once the ladder is exhausted). The draw
 * is `Math.random()` per event, at the shares given; `demo_published.fault` records the outcome.
 *
 * The event types are generated from the schemas (`npm run codegen` writes ./ledger-event-types.ts; `npm test`
 * fails when it is stale): the values the producer writes are checked against them, and the workers route each
 * event to the case of its type (`balanceChange`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/package-root.ts';
import { route } from '../../consumers/routing/event-router.ts';
import type { OutgoingEvent } from '../../producers/event-producer.ts';
import { newEventId } from '../../producers/event-id.ts';
import { accountsLedgerEventTypes, type AccountClosedInput, type AccountOpenedInput, type AccountsLedgerEvents, type FundsDepositedInput, type FundsWithdrawnInput } from './ledger-event-types.ts';

export const faultHeader = 'ledger-demo-fault';

/** An event type by record name: `AccountOpened`, `FundsDeposited`, `FundsWithdrawn`, `AccountClosed`. */
export type LedgerEventType = keyof AccountsLedgerEvents;

function schemaText(file: string): string {
  // From the package root, so the compiled demo (dist/examples/ledger) finds the same files.
  return readFileSync(join(packageRoot(import.meta.url), 'schemas/avro', file), 'utf8');
}

/** The writer schemas the producer uses (`FundsDeposited` in v1 and v2). */
export const writerSchemas = {
  AccountOpened: schemaText('AccountOpened.avsc'),
  FundsDepositedV1: schemaText('FundsDeposited.avsc'),
  FundsDepositedV2: schemaText('FundsDeposited.v2.avsc'),
  FundsWithdrawn: schemaText('FundsWithdrawn.avsc'),
};

/** The schemas the workers read into: the newest version of each event type. */
export const readerSchemas = [schemaText('AccountOpened.avsc'), schemaText('FundsDeposited.v2.avsc'), schemaText('FundsWithdrawn.avsc'), schemaText('AccountClosed.avsc')];

export type Fault = 'none' | 'transient' | 'poison';

/** One published event as the demo records it in `demo_published`. */
export interface PublishedLedgerEvent {
  eventId: string;
  accountId: string;
  sequence: number;
  type: LedgerEventType;
  /** The change to the balance, in minor units (cents): + for a deposit, − for a withdrawal, 0 otherwise. */
  amountMinor: number;
  fault: Fault;
  /** For a transient fault: the attempts that fail before one succeeds. */
  failures: number;
  /** Epoch ms; the `orderly-occurred-at` header. */
  occurredAt: number;
  runId: string;
  /** A delayed event's due time, epoch ms (`orderly-deliver-at`); undefined when not delayed. */
  dueAt?: number;
}

/** What the generator knows of an account: its last published sequence and balance. */
export interface AccountPlan {
  lastSequence: number;
  balanceMinor: number;
}

export function accountIdOf(index: number, keys: number): string {
  return `account-${String(index + 1).padStart(String(keys).length, '0')}`;
}

export interface LedgerEventGeneratorOptions {
  keys: number;
  failRate: number;
  poisonRate: number;
  runId: string;
  /** Accounts already published to (sequence and balance go on from there). */
  accounts: Map<string, AccountPlan>;
  /** Delayed events: each is due a random time from 0 to this many ms after it is generated. 0: none delayed. */
  delayMs?: number;
}

/** Builds the next events, one random account at a time. */
export class LedgerEventGenerator {
  readonly #options: LedgerEventGeneratorOptions;

  constructor(options: LedgerEventGeneratorOptions) {
    this.#options = options;
  }

  next(): PublishedLedgerEvent {
    const { keys, accounts, failRate, poisonRate, runId } = this.#options;
    const accountId = accountIdOf(Math.floor(Math.random() * keys), keys);
    const plan = accounts.get(accountId) ?? { lastSequence: 0, balanceMinor: 0 };
    accounts.set(accountId, plan);
    const sequence = ++plan.lastSequence;
    let type: LedgerEventType = 'AccountOpened';
    let amountMinor = 0;
    if (sequence > 1) {
      const amount = 100 + Math.floor(Math.random() * 50_000);
      const withdraw = Math.random() < 0.4 && plan.balanceMinor >= amount;
      type = withdraw ? 'FundsWithdrawn' : 'FundsDeposited';
      amountMinor = withdraw ? -amount : amount;
      plan.balanceMinor += amountMinor;
    }
    const draw = Math.random();
    const fault: Fault = draw < poisonRate ? 'poison' : draw < poisonRate + failRate ? 'transient' : 'none';
    const failures = fault === 'transient' ? 1 + Math.floor(Math.random() * 4) : 0;
    const occurredAt = Date.now();
    const delayMs = this.#options.delayMs ?? 0;
    const event: PublishedLedgerEvent = { eventId: newEventId(), accountId, sequence, type, amountMinor, fault, failures, occurredAt, runId };
    if (delayMs > 0) event.dueAt = occurredAt + Math.floor(Math.random() * delayMs);
    return event;
  }
}

/** The Kafka event for a published ledger event: keyed by account, Avro, with the fault header if any. */
export function toOutgoingEvent(event: PublishedLedgerEvent): OutgoingEvent {
  const { accountId, sequence } = event;
  const headers: Record<string, string> = {};
  if (event.fault === 'transient') headers[faultHeader] = `transient:${event.failures}`;
  if (event.fault === 'poison') headers[faultHeader] = 'poison';
  const common = { key: accountId, type: accountsLedgerEventTypes[event.type], eventId: event.eventId, occurredAt: new Date(event.occurredAt), headers, ...(event.dueAt === undefined ? {} : { deliverAt: event.dueAt }) };
  switch (event.type) {
    case 'AccountOpened':
      return { ...common, schema: writerSchemas.AccountOpened, value: { accountId, sequence, owner: `owner of ${accountId}`, currency: 'EUR' } satisfies AccountOpenedInput };
    case 'FundsDeposited':
      // v1 has no channel: the input type leaves it out (it has a default), and v2 readers read 'unknown'.
      return sequence % 2 === 0
        ? { ...common, schema: writerSchemas.FundsDepositedV1, value: { accountId, sequence, amountMinor: event.amountMinor, currency: 'EUR' } satisfies FundsDepositedInput }
        : { ...common, schema: writerSchemas.FundsDepositedV2, value: { accountId, sequence, amountMinor: event.amountMinor, currency: 'EUR', channel: 'transfer' } satisfies FundsDepositedInput };
    case 'FundsWithdrawn':
      return { ...common, schema: writerSchemas.FundsWithdrawn, value: { accountId, sequence, amountMinor: -event.amountMinor, currency: 'EUR' } satisfies FundsWithdrawnInput };
    case 'AccountClosed':
      return { ...common, schema: schemaText('AccountClosed.avsc'), value: { accountId, sequence } satisfies AccountClosedInput };
  }
}

/**
 * The change an event makes to its account's balance, in minor units: one case per event type of the topic (a
 * type added to the schemas without a case here does not compile). An event of a type the ledger does not know
 * throws `UnknownEventTypeError`: it goes to the DLT as `unknown-event-type`, and its account goes on.
 */
export const balanceChange = route<AccountsLedgerEvents, [], number>({
  AccountOpened: () => 0,
  FundsDeposited: ({ value }) => value.amountMinor,
  FundsWithdrawn: ({ value }) => -value.amountMinor,
  AccountClosed: () => 0,
});

/** Throws when the event is marked to fail this attempt (see the module comment). */
export function failIfMarked(headers: Record<string, string>, attempt: number): void {
  const mark = headers[faultHeader];
  if (mark === undefined) return;
  if (mark === 'poison') throw new Error('ledger demo: poison event, fails every attempt');
  const failures = Number(/^transient:(\d+)$/.exec(mark)?.[1] ?? 0);
  if (attempt <= failures) throw new Error(`ledger demo: transient failure ${attempt} of ${failures}`);
}
