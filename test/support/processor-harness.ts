/**
 * A real {@link RecordProcessor} with real stores (Redis or memory) and a producer that records what it is asked
 * to send: drive one record at a time, in the order a test needs, to reproduce an interleaving exactly.
 */
import pino from 'pino';
import { consumedRecordOf, readRetryState, type ConsumedRecord } from '../../consumers/consumed-record.ts';
import { ProducerForwarder } from '../../consumers/dead-letter/dead-letter-publisher.ts';
import { ConsumerEventEmitter } from '../../consumers/events.ts';
import type { IdempotencyStore } from '../../consumers/idempotency/idempotency-store.ts';
import { validateOrderedConsumerOptions, type OrderedConsumerOptions } from '../../consumers/options.ts';
import { RecordProcessor, type RecordLiveness } from '../../consumers/record-processor.ts';
import { KeyParking } from '../../consumers/retries/key-parking.ts';
import type { ParkingStore } from '../../consumers/retries/parking-store.ts';
import { parseRetryTopic } from '../../consumers/retries/topic-layout.ts';
import type { Producer } from '../../core/kafka-client.ts';

export interface SentRecord {
  topic: string;
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer>;
}

export interface ProcessorMember {
  processor: RecordProcessor<unknown>;
  parking: KeyParking;
  events: ConsumerEventEmitter;
  /** Records forwarded (tier or DLT), in order. */
  sent: SentRecord[];
  /** Liveness of the member's current assignment; `revoke()` ends it. */
  live: RecordLiveness;
  revoke(): void;
  /** A new assignment (rebalance): new epoch, parking cache reset. */
  rejoin(): void;
}

export interface MemberOptions {
  memberId: string;
  sourceTopic: string;
  groupId: string;
  parkingStore: ParkingStore;
  idempotencyStore?: IdempotencyStore;
  handler: OrderedConsumerOptions<unknown>['handler'];
  options?: Partial<OrderedConsumerOptions<unknown>>;
}

export function processorMember({ memberId, sourceTopic, groupId, parkingStore, idempotencyStore, handler, options = {} }: MemberOptions): ProcessorMember {
  let epoch = 1;
  let current = true;
  const sent: SentRecord[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: async ({ topic, messages }: { topic: string; messages: SentRecord[] }) => {
      for (const message of messages) sent.push({ ...message, topic });
      return [];
    },
  } as unknown as Producer;
  const valid = validateOrderedConsumerOptions<unknown>({
    kafka: { brokers: ['127.0.0.1:1'], clientId: memberId },
    groupId,
    topics: [sourceTopic],
    retryTiersMs: [60_000, 120_000],
    inPlaceRetries: 0,
    handler,
    parkingStore,
    idempotencyStore,
    ...options,
  });
  const events = new ConsumerEventEmitter();
  const owner = () => `${memberId}/${epoch}`;
  const parking = new KeyParking(parkingStore, { currentOwner: owner });
  const processor = new RecordProcessor(valid, {
    forwarder: new ProducerForwarder({ createProducer: () => producer, groupId, logger: pino({ level: 'silent' }) }),
    events,
    logger: pino({ level: 'silent' }),
    fencingToken: owner,
    parking,
    tierOf: (topic) => parseRetryTopic(topic, groupId, [sourceTopic]),
  });
  const stop = new AbortController();
  const member: ProcessorMember = {
    processor,
    parking,
    events,
    sent,
    live: { epoch, isCurrent: () => current, signal: stop.signal },
    revoke: () => {
      current = false;
    },
    rejoin: () => {
      epoch++;
      current = true;
      parking.reset();
      const mine = epoch;
      member.live = { epoch: mine, isCurrent: () => current && epoch === mine, signal: stop.signal };
    },
  };
  return member;
}

/** A source record of `key` with event id `eventId` at `offset`. */
export function sourceRecord(topic: string, { key, eventId, offset, partition = 0 }: { key: string; eventId: string; offset: number; partition?: number }): ConsumedRecord {
  const message = { offset: String(offset), key: Buffer.from(key), value: Buffer.from(JSON.stringify({ eventId })), headers: { 'orderly-event-id': eventId }, timestamp: String(Date.now()) };
  return consumedRecordOf(message as never, topic, topic, partition, `${topic}\u0000${partition}`);
}

/** A forwarded record as the consumer fetches it from its topic (tier `tier`) at `offset`, due now. */
export function fetched(sourceTopic: string, record: SentRecord, offset: number, tier = 1): ConsumedRecord {
  const headers: Record<string, string | Buffer> = { ...record.headers, 'orderly-due-at': String(Date.now()) };
  const message = { offset: String(offset), key: record.key, value: record.value, headers, timestamp: String(Date.now()) };
  const retry = readRetryState(headers, { now: Date.now(), maxDelayMs: 3_600_000 });
  return consumedRecordOf(message as never, record.topic, sourceTopic, record.partition, `${record.topic}\u0000${record.partition}`, tier, retry);
}

/** The last record sent with this event id. */
export function lastSent(member: ProcessorMember, eventId: string): SentRecord {
  const found = member.sent.findLast((record) => headerText(record.headers, 'orderly-event-id') === eventId);
  if (!found) throw new Error(`nothing sent for ${eventId}`);
  return found;
}

function headerText(headers: SentRecord['headers'], name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : String(value);
}
