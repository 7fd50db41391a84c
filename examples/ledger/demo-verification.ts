import { createKafkaClient } from '../../core/kafka-client.ts';
import { deadLetterTopicOf } from '../../consumers/retries/topic-layout.ts';
import type { DemoConnections } from './demo-options.ts';
import { readDeadLetters } from './dead-letter-reader.ts';
import type { LedgerStore } from './ledger-store.ts';
import { verifyLedger, type VerificationReport } from './ledger-verifier.ts';

/** Verifies a topic and group from the demo database and the group's DLT. */
export async function verifyDemo(connections: DemoConnections, store: LedgerStore, where: { topic: string; group: string }): Promise<VerificationReport> {
  const kafka = createKafkaClient({ brokers: connections.kafkaBrokers.split(','), clientId: 'ledger-demo-verify' });
  await store.setup();
  const deadLetters = await readDeadLetters(kafka, deadLetterTopicOf(where.topic, where.group));
  return verifyLedger(await store.snapshot(), deadLetters);
}
