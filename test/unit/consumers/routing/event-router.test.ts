/**
 * The typed router: each event reaches the case of its type with its own value type; a missing case, an extra
 * one or no event map is a compile error (the `@ts-expect-error` lines are checked by `npm run typecheck`); an
 * event of no case's type throws `UnknownEventTypeError`, which the failure router sends straight to the DLT
 * as `unknown-event-type`.
 */
import { describe, expect, it } from 'vitest';
import { UnknownEventTypeError, type OrderlyError } from '../../../../core/errors.ts';
import { emitWithoutProducer } from '../../../../consumers/emit/attempt-emits.ts';
import { deadLetterReasons } from '../../../../consumers/dead-letter/reason-codes.ts';
import type { HandledEvent, HandlerContext } from '../../../../consumers/options.ts';
import { decideRetry, isRetryableError } from '../../../../consumers/retries/failure-router.ts';
import { route } from '../../../../consumers/routing/event-router.ts';
import type { AccountsLedgerEvents, AccountsLedgerValue } from '../../../../examples/ledger/ledger-event-types.ts';

function event<T>(eventType: string | undefined, value: T): HandledEvent<T> {
  return { topic: 'accounts.ledger', partition: 0, offset: '7', key: 'account-1', value, eventId: 'e-1', eventType, headers: {}, timestamp: '0', payloadHash: 'h' };
}

const context: HandlerContext = { signal: new AbortController().signal, attempt: 1, emit: emitWithoutProducer };
const opened = { accountId: 'account-1', sequence: 1, owner: 'o', currency: 'EUR' };

describe('route', () => {
  it('calls the case of the event type, by full name or record name, with the context', async () => {
    const seen: string[] = [];
    const handler = route<AccountsLedgerEvents>({
      AccountOpened: async (opening, { attempt }) => void seen.push(`opened ${opening.value.owner} ${attempt}`),
      FundsDeposited: async (deposit) => void seen.push(`deposit ${deposit.value.amountMinor} via ${deposit.value.channel}`),
      FundsWithdrawn: async (withdrawal) => void seen.push(`withdrawal ${withdrawal.value.amountMinor}`),
      AccountClosed: async (closing) => void seen.push(`closed ${closing.value.reason ?? 'no reason'}`),
    });
    await handler(event<AccountsLedgerValue>('orderly.ledger.AccountOpened', opened), context);
    await handler(event<AccountsLedgerValue>('FundsDeposited', { accountId: 'a', sequence: 2, amountMinor: 500, currency: 'EUR', channel: 'card' }), { ...context, attempt: 2 });
    await handler(event<AccountsLedgerValue>('orderly.ledger.AccountClosed', { accountId: 'a', sequence: 3, reason: null }), context);
    expect(seen).toEqual(['opened o 1', 'deposit 500 via card', 'closed no reason']);
  });

  it('throws UnknownEventTypeError for a type no case has, or no type at all; the failure router dead-letters it as unknown-event-type without retrying', () => {
    const handler = route<{ AccountOpened: typeof opened }>({ AccountOpened: async () => undefined });
    for (const type of ['orderly.ledger.AccountMerged', undefined, '__proto__', 'constructor']) {
      let thrown: unknown;
      try {
        void handler(event(type, opened), context);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(UnknownEventTypeError);
      expect((thrown as OrderlyError).code).toBe('UNKNOWN_EVENT_TYPE');
      expect(isRetryableError(thrown, () => true)).toBe(false);
      expect(decideRetry({ error: thrown, attemptsSoFar: 1, currentTier: 0, failedAt: 0, timedOut: false }, { tiersMs: [1_000], maxAttempts: 9, jitter: 0 })).toEqual({ kind: 'dead-letter', reason: 'unknown-event-type' });
    }
    expect(deadLetterReasons).toContain('unknown-event-type');
    expect(() => handler(event('x.Other', opened), context)).toThrow(/no handler case for event type "x\.Other"; the cases are AccountOpened/);
  });

  it('routes other shapes: extra arguments and a plain result', () => {
    const balanceChange = route<AccountsLedgerEvents, [], number>({
      AccountOpened: () => 0,
      FundsDeposited: ({ value }) => value.amountMinor,
      FundsWithdrawn: ({ value }) => -value.amountMinor,
      AccountClosed: () => 0,
    });
    expect(balanceChange(event<AccountsLedgerValue>('orderly.ledger.FundsWithdrawn', { accountId: 'a', sequence: 2, amountMinor: 300, currency: 'EUR' }))).toBe(-300);
    const withTransaction = route<{ AccountOpened: typeof opened }, [string, HandlerContext]>({ AccountOpened: async (_event, transaction) => void expect(transaction).toBe('tx') });
    return withTransaction(event('AccountOpened', opened), 'tx', context);
  });

  it('refuses a case that is not a function at run time (a plain JavaScript caller)', () => {
    expect(() => route<{ A: number }>({ A: 'nope' } as never)).toThrow(/the case A is not a function/);
  });

  it('makes a missing case, an unknown case, a wrong value type and a missing event map compile errors', () => {
    const cases = {
      AccountOpened: async () => undefined,
      FundsDeposited: async () => undefined,
      FundsWithdrawn: async () => undefined,
    };
    // @ts-expect-error AccountClosed has no case
    const missing = route<AccountsLedgerEvents>(cases);
    const extra = route<AccountsLedgerEvents>({
      ...cases,
      AccountClosed: async () => undefined,
      // @ts-expect-error the topic carries no AccountMerged
      AccountMerged: async () => undefined,
    });
    const wrongValue = route<AccountsLedgerEvents>({
      ...cases,
      // @ts-expect-error AccountClosed has no amountMinor
      AccountClosed: async (closing) => void closing.value.amountMinor,
    });
    // @ts-expect-error without the event map, nothing could be checked
    const noMap = route({ AccountOpened: async () => undefined });
    expect([missing, extra, wrongValue, noMap].every((handler) => typeof handler === 'function')).toBe(true);
  });
});
