/**
 * The topics of the orders example, declared the way `orderly topics create` takes them (a topics.yaml entry
 * each): a source topic with the retry tiers and the dead-letter topic of the group that consumes it, all
 * with the same partition count. start.ts creates what is missing and checks the rest; nothing relies on the
 * broker creating topics on first use.
 *
 * With the default names this is the same as:
 *   npx orderly topics create orders --group order-confirmer --partitions 6
 *   npx orderly topics create order-confirmations --group orders-api --partitions 6
 */
import { declareTopics, type TopicDeclaration } from '../../operations/index.ts'; // in your service: from 'orderly/operations'
import type { OrdersSettings } from './settings.ts';

export function orderTopics(settings: OrdersSettings): TopicDeclaration[] {
  return declareTopics([
    { topic: settings.ordersTopic, group: settings.confirmerGroup, partitions: 6 },
    { topic: settings.confirmationsTopic, group: settings.apiGroup, partitions: 6 },
  ]);
}
