/**
 * The typed router: one case per event type of a topic, checked by the compiler.
 *
 * ```ts
 * handler: route<AccountsLedgerEvents>({
 *   AccountOpened: async (event, context) => ...,   // event.value: AccountOpened
 *   FundsDeposited: async (event, context) => ...,  // event.value: FundsDeposited
 *   ...
 * })
 * ```
 *
 * The event map (`AccountsLedgerEvents`) is what `orderly schemas codegen` generates for a topic: record name ->
 * value type. A missing case, a case for a type the topic does not carry, or no event map at all is a compile
 * error. At run time an event goes to the case its `eventType` (`orderly-event-type`) names: the case's name
 * itself or a full name ending in `.<name>` (`orderly.ledger.AccountOpened`, the producer's default type). An
 * event no case matches (a type added to the topic before this consumer was rebuilt, a forged header) throws
 * {@link UnknownEventTypeError}: the DLT as `unknown-event-type`, without retries.
 *
 * The cases' extra arguments and result default to a consumer handler's (`context`, `Promise<void>`); other
 * shapes route too, e.g. an inbox's `(event, transaction, context)`: `route<Events, [PoolClient, HandlerContext]>`,
 * or a pure function per type: `route<Events, [], number>`.
 */
import { UnknownEventTypeError } from '../../core/errors.ts';
import type { HandledEvent, HandlerContext } from '../options.ts';

/** One case per event type of `M`, each given the event with its own value type. */
export type RouteCases<M, Args extends unknown[] = [HandlerContext], R = Promise<void>> = {
  [K in keyof M & string]: (event: HandledEvent<M[K]>, ...args: Args) => R;
};

/** What {@link route} returns: one function for an event of any of the types. */
export type RoutedHandler<M, Args extends unknown[] = [HandlerContext], R = Promise<void>> = (event: HandledEvent<M[keyof M & string]>, ...args: Args) => R;

/** The parameter's type when `route` is called without its event map: the compiler names what is missing. */
export interface EventMapRequired {
  'route needs the event map of the topic: route<TopicEvents>({ ... }), from orderly schemas codegen': never;
}

/** The short name of an event type: `orderly.ledger.AccountOpened` -> `AccountOpened`. */
function shortName(eventType: string): string {
  return eventType.slice(eventType.lastIndexOf('.') + 1);
}

/**
 * A function that calls the case of an event's type; an event of no case's type throws an
 * {@link UnknownEventTypeError} (synchronously: the consumer and the inboxes treat a throw like a rejection).
 */
export function route<M extends object = never, Args extends unknown[] = [HandlerContext], R = Promise<void>>(
  cases: NoInfer<[M] extends [never] ? EventMapRequired : RouteCases<M, Args, R>>,
): RoutedHandler<M, Args, R> {
  type Case = (event: HandledEvent<unknown>, ...args: Args) => R;
  const byName = new Map<string, Case>();
  for (const [name, handle] of Object.entries(cases as Record<string, unknown>)) {
    if (typeof handle !== 'function') throw new TypeError(`route: the case ${name} is not a function`);
    byName.set(name, handle as Case);
  }
  const names = [...byName.keys()];
  return (event, ...args) => {
    const type = event.eventType;
    const handle = type === undefined ? undefined : (byName.get(type) ?? byName.get(shortName(type)));
    if (!handle) throw new UnknownEventTypeError(type, names);
    return handle(event as HandledEvent<unknown>, ...args);
  };
}
