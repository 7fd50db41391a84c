/**
 * The plain path's first attempt (`RecordProcessor.start` with no decoder, store or parking): one callback for
 * every record, the record's state carried in its work. Each record settles exactly once, with its own
 * outcome, whatever order the handlers finish in; a failed or timed-out first attempt goes on to the retries,
 * and a first attempt that settles after its timeout changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { consumedRecordOf, type ConsumedRecord } from '../../../consumers/consumed-record.ts';
import type { RecordForwarder } from '../../../consumers/dead-letter/dead-letter-publisher.ts';
import type { ForwardFailure } from '../../../consumers/dead-letter/dead-letter-headers.ts';
import { ConsumerEventEmitter } from '../../../consumers/events.ts';
import { validateOrderedConsumerOptions, type OrderedConsumerOptions } from '../../../consumers/options.ts';
import { RecordProcessor, type RecordLiveness, type RecordOutcome, type RecordSink } from '../../../consumers/record-processor.ts';
import type { KafkaMessage } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';

class MemoryForwarder implements RecordForwarder {
  readonly sent: { key: string | null; failure: ForwardFailure }[] = [];
  async forward(_topic: string, record: { key: Buffer | null }, failure: ForwardFailure): Promise<void> {
    this.sent.push({ key: record.key?.toString() ?? null, failure });
  }
}

/** Every report the sink gets, in order, and a promise per record for its first report. */
class RecordingSink implements RecordSink {
  readonly reports: { offset: string; outcome: RecordOutcome | 'failed' }[] = [];
  private readonly waiting = new Map<string, () => void>();

  settled(record: ConsumedRecord, _live: RecordLiveness, outcome: RecordOutcome): void {
    this.reports.push({ offset: record.offset, outcome });
    this.waiting.get(record.offset)?.();
  }

  failed(record: ConsumedRecord): void {
    this.reports.push({ offset: record.offset, outcome: 'failed' });
    this.waiting.get(record.offset)?.();
  }

  reported(offset: string): Promise<void> {
    return new Promise((resolve) => this.waiting.set(offset, resolve));
  }
}

function setup(overrides: Partial<OrderedConsumerOptions<unknown>>) {
  const events = new ConsumerEventEmitter();
  const forwarder = new MemoryForwarder();
  const options = validateOrderedConsumerOptions<unknown>({ kafka: { brokers: ['127.0.0.1:9'] }, groupId: 'g', topics: ['orders'], retryTiersMs: [], inPlaceRetries: 0, handler: async () => undefined, ...overrides } as OrderedConsumerOptions<unknown>);
  const processor = new RecordProcessor(options, { forwarder, events, logger: createLogger({ level: 'silent' }), fencingToken: () => 'm/1', parking: undefined, tierOf: () => undefined });
  // The path under test: only the handler runs (no decoder, store or parking).
  expect((processor as unknown as { plain: boolean }).plain).toBe(true);
  return { processor, forwarder, events, sink: new RecordingSink() };
}

const live: RecordLiveness = { epoch: 1, isCurrent: () => true, signal: new AbortController().signal };

function record(offset: number, key: string): ConsumedRecord {
  const message = { offset: String(offset), key: Buffer.from(key), value: Buffer.from(`value-${offset}`), timestamp: '0', attributes: 0, headers: { 'orderly-event-id': `e-${offset}` }, size: 0 } as unknown as KafkaMessage;
  return consumedRecordOf(message, 'orders', 'orders', 0, 'orders\u00000');
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
}

describe('RecordProcessor plain path: the first attempt', () => {
  it('settles each of many records once, with its own outcome, whatever order their handlers finish in', async () => {
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const seen: { eventId: string; value: string; attempt: number }[] = [];
    const { processor, sink, forwarder } = setup({
      handler: (event, context) => {
        seen.push({ eventId: event.eventId, value: String(event.value), attempt: context.attempt });
        return gates.get(event.eventId)!.promise;
      },
    });
    const records = Array.from({ length: 40 }, (_, index) => record(index, `k-${index}`));
    for (const each of records) gates.set(`e-${each.offset}`, deferred());
    const reported = records.map((each) => sink.reported(each.offset));
    for (const each of records) processor.start(each, live, sink);
    expect(seen.map((call) => call.eventId)).toEqual(records.map((each) => `e-${each.offset}`));
    expect(seen.every((call) => call.value === `value-${call.eventId.slice(2)}` && call.attempt === 1)).toBe(true);
    // Finish in a scrambled order: every third fails (non-retryable: no retries configured, so to the DLT).
    const order = records.map((_, index) => (index * 17) % records.length);
    for (const index of order) {
      const gate = gates.get(`e-${index}`)!;
      if (index % 3 === 0) gate.reject(new Error(`failed ${index}`));
      else gate.resolve();
    }
    await Promise.all(reported);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.reports).toHaveLength(records.length);
    for (const each of records) {
      const index = Number(each.offset);
      expect(sink.reports.filter((report) => report.offset === each.offset)).toEqual([{ offset: each.offset, outcome: index % 3 === 0 ? 'dead-lettered' : 'handled' }]);
    }
    expect(forwarder.sent.map((sent) => sent.key).sort()).toEqual(records.filter((_, index) => index % 3 === 0).map((each) => each.key!.toString()).sort());
  });

  it('goes on to an in-place retry after a failed first attempt, with the same event', async () => {
    const attempts: number[] = [];
    const { processor, sink } = setup({
      inPlaceRetries: 1,
      retryBackoffMs: 1,
      handler: async (_event, context) => {
        attempts.push(context.attempt);
        if (context.attempt === 1) throw new Error('transient');
      },
    });
    const reported = sink.reported('7');
    processor.start(record(7, 'k'), live, sink);
    await reported;
    expect(attempts).toEqual([1, 2]);
    expect(sink.reports).toEqual([{ offset: '7', outcome: 'handled' }]);
  });

  it('a first attempt that times out is retried; its late settling changes nothing, and the record settles once', async () => {
    const late = deferred();
    const signals: boolean[] = [];
    const { processor, sink, events } = setup({
      handlerTimeoutMs: 20,
      inPlaceRetries: 1,
      retryBackoffMs: 1,
      leaseMs: 60_000,
      handler: async (_event, context) => {
        if (context.attempt === 1) {
          await late.promise;
          signals.push(context.signal.aborted);
        }
      },
    });
    const timedOut = new Promise<void>((resolve) => events.on('consumer.handler.timed-out', () => resolve()));
    const reported = sink.reported('3');
    processor.start(record(3, 'k'), live, sink);
    await timedOut;
    // The second attempt waits for the timed-out first one to settle (never two attempts of one event at once).
    late.resolve();
    await reported;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(signals).toEqual([true]); // the first attempt's signal was aborted at its timeout
    expect(sink.reports).toEqual([{ offset: '3', outcome: 'handled' }]);
  });
});
