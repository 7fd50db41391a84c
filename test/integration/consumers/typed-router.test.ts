/**
 * The typed router on the real stack: Avro events of the ledger's four types on one topic reach their cases
 * with their generated value types (a v1 deposit reads as v2, channel 'unknown'), in per-key order; an event
 * of a type no case has goes to the DLT once, as `unknown-event-type`, with no retry, and its key goes on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forwardHeaders } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { route } from '../../../consumers/routing/event-router.ts';
import { readerSchemas } from '../../../examples/ledger/ledger-events.ts';
import type { AccountClosedInput, AccountOpenedInput, AccountsLedgerEvents, AccountsLedgerValue, FundsDepositedInput, FundsWithdrawnInput } from '../../../examples/ledger/ledger-event-types.ts';
import { EventProducer } from '../../../producers/event-producer.ts';
import { AvroCodec } from '../../../schemas/avro-codec.ts';
import { eventually, readAll, startTestConsumer } from '../../support/consumer-harness.ts';
import { createTestTopic, testAdmin, testGroupId, testKafka } from '../../support/test-stack.ts';
import { testRegistry } from '../schemas/registry-helpers.ts';

const schema = (file: string) => readFileSync(`schemas/avro/${file}`, 'utf8');

type AccountsLedgerInput = AccountOpenedInput | FundsDepositedInput | FundsWithdrawnInput | AccountClosedInput;

describe('route on the real stack', () => {
  it('hands each event to the case of its type, in key order, and dead-letters an unknown type once as unknown-event-type', async () => {
    const topic = await createTestTopic({ partitions: 2, prefix: 'typed-router' });
    const groupId = testGroupId();
    const admin = await testAdmin();
    const dlt = deadLetterTopicOf(topic, groupId);
    await admin.createTopics({ topics: [{ topic: dlt, numPartitions: 2 }], waitForLeaders: true });

    const producer = new EventProducer({ kafka: testKafka(), registry: testRegistry(), autoRegister: true, topic, subjectNameStrategy: 'topic-record' });
    try {
      const opened = (accountId: string) => ({ key: accountId, schema: schema('AccountOpened.avsc'), value: { accountId, sequence: 1, owner: 'o', currency: 'EUR' } });
      await producer.publishBatch<AccountsLedgerInput>([
        opened('account-1'),
        // A type this consumer was not built for (written with a known schema, so it decodes).
        { key: 'account-1', schema: schema('AccountClosed.avsc'), type: 'orderly.ledger.AccountMerged', eventId: 'merged-1', value: { accountId: 'account-1', sequence: 2, reason: 'merged' } },
        { key: 'account-1', schema: schema('FundsDeposited.v2.avsc'), value: { accountId: 'account-1', sequence: 3, amountMinor: 700, currency: 'EUR', channel: 'card' } },
        opened('account-2'),
        { key: 'account-2', schema: schema('FundsDeposited.avsc'), value: { accountId: 'account-2', sequence: 2, amountMinor: 500, currency: 'EUR' } },
        { key: 'account-2', schema: schema('FundsWithdrawn.avsc'), value: { accountId: 'account-2', sequence: 3, amountMinor: 200, currency: 'EUR' } },
        { key: 'account-2', schema: schema('AccountClosed.avsc'), value: { accountId: 'account-2', sequence: 4, reason: null } },
      ]);
    } finally {
      await producer.close();
    }

    const seen: string[] = [];
    let calls = 0;
    const routed = route<AccountsLedgerEvents>({
      AccountOpened: async ({ value }) => void seen.push(`${value.accountId} ${value.sequence} opened by ${value.owner}`),
      FundsDeposited: async ({ value }) => void seen.push(`${value.accountId} ${value.sequence} +${value.amountMinor} via ${value.channel}`),
      FundsWithdrawn: async ({ value }) => void seen.push(`${value.accountId} ${value.sequence} -${value.amountMinor}`),
      AccountClosed: async ({ value }) => void seen.push(`${value.accountId} ${value.sequence} closed (${value.reason ?? 'no reason'})`),
    });
    const consumer = startTestConsumer<AccountsLedgerValue>({
      groupId,
      topics: [topic],
      decoder: new AvroCodec<AccountsLedgerValue>({ source: testRegistry(), readerSchemas, subjectNameStrategy: 'topic-record' }),
      inPlaceRetries: 2,
      retryBackoffMs: 10,
      handler: (event, context) => {
        calls++;
        return routed(event, context);
      },
    });
    await consumer.start();
    await eventually(() => seen.length === 6, () => `handled ${JSON.stringify(seen)}`, 60_000);
    const [deadLetter] = await readAll(dlt, 1);
    expect(deadLetter!.headers?.[forwardHeaders.reason]?.toString()).toBe('unknown-event-type');
    expect(deadLetter!.headers?.[forwardHeaders.errorType]?.toString()).toBe('UNKNOWN_EVENT_TYPE');
    expect(deadLetter!.headers?.[forwardHeaders.errorMessage]?.toString()).toMatch(/no handler case for event type "orderly\.ledger\.AccountMerged"/);
    expect(deadLetter!.headers?.['orderly-event-id']?.toString()).toBe('merged-1');
    expect(seen.filter((line) => line.startsWith('account-1'))).toEqual(['account-1 1 opened by o', 'account-1 3 +700 via card']);
    expect(seen.filter((line) => line.startsWith('account-2'))).toEqual(['account-2 1 opened by o', 'account-2 2 +500 via unknown', 'account-2 3 -200', 'account-2 4 closed (no reason)']);
    expect(calls).toBe(7); // the unknown type was tried once: no retry in place
  });
});
