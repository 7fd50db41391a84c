/**
 * What the member does with a record batch that could not be decoded (its records arrive as markers, see
 * `core/compression/undecodable-batch.ts`). By default the partition stops at the batch: nothing at or past
 * it is taken or committed, the batch is reported once (an error log line naming topic, partition, offsets,
 * codec and cause; the `consumer.batch.undecodable` event; `/readyz` failing through {@link health}), and it
 * is fetched again every {@link UndecodableBatchIntake.recheckMs} while the partition stays assigned. With
 * `skipUndecodableBatches` the member writes one stub per batch to the DLT (reason `undecodable-batch`, the
 * batch's coordinates in the headers) and, once the DLT acknowledged it, completes the batch's offsets.
 */
import { OrderlyError } from '../../core/errors.ts';
import type { UndecodableBatch } from '../../core/compression/undecodable-batch.ts';
import type { Logger } from '../../core/logger.ts';
import { firstVisit, type ConsumedRecord } from '../consumed-record.ts';
import type { ConsumerEventEmitter } from '../events.ts';
import type { ForwardFailure, RecordOrigin } from '../dead-letter/dead-letter-headers.ts';

/** A marker as the member meets it in a fetched batch. */
export interface UndecodableRecord {
  topic: string;
  sourceTopic: string;
  partition: number;
  partitionId: string;
  offset: string;
  batch: UndecodableBatch;
}

export interface UndecodableBatchIntakeOptions {
  groupId: string;
  skip: boolean;
  logger: Logger;
  events: ConsumerEventEmitter;
  /** Tracks a marker's offset, so the watermark waits for it. */
  track(record: UndecodableRecord): void;
  /** Completes a marker's offset, if the partition is still held in `epoch`. */
  complete(record: UndecodableRecord, epoch: number): void;
  /** Sends the stub to the source topic's DLT; resolves once the broker acknowledged it. */
  deadLetter(stub: ConsumedRecord, failure: ForwardFailure, origin: RecordOrigin): Promise<void>;
  /** Pauses the partition until `untilMs` (it is fetched again then). */
  holdPartition(partitionId: string, untilMs: number): void;
  /** True while `epoch` is the member's current one and it is running. */
  isCurrent(epoch: number): boolean;
}

interface StubbedBatch {
  written: boolean;
  waiting: UndecodableRecord[];
}

export class UndecodableBatchIntake {
  /** How long a partition stopped at an undecodable batch waits before it is fetched again. */
  static readonly recheckMs = 30_000;
  /** Longest wait between two tries of a stub that the DLT did not take. */
  static readonly stubRetryMaxMs = 30_000;
  private readonly options: UndecodableBatchIntakeOptions;
  /** Partitions stopped at a batch, by partition id. */
  private readonly blocked = new Map<string, UndecodableRecord>();
  /** Batches whose stub is written or on its way, in this epoch, by `<partitionId>@<baseOffset>`. */
  private stubbed = new Map<string, StubbedBatch>();
  private epoch = 0;

  constructor(options: UndecodableBatchIntakeOptions) {
    this.options = options;
  }

  /**
   * A marker fetched in `epoch`: `'taken'` (tracked; completed once its stub is written) or `'blocked'` (the
   * partition stops here: take nothing after it from this batch).
   */
  admit(record: UndecodableRecord, epoch: number): 'taken' | 'blocked' {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.stubbed = new Map();
    }
    return this.options.skip ? this.skip(record, epoch) : this.block(record);
  }

  /** After a rebalance: partitions no longer held stop counting as blocked (a held one is reported again when fetched). */
  retain(assigned: ReadonlySet<string>): void {
    for (const id of this.blocked.keys()) if (!assigned.has(id)) this.blocked.delete(id);
  }

  /** Not ready while a partition is stopped at an undecodable batch. */
  health(): { ready: boolean; reasons: string[] } {
    const reasons = [...this.blocked.values()].map(
      ({ topic, partition, batch }) =>
        `group ${this.options.groupId}: ${topic} partition ${partition} is stopped at an undecodable ${batch.codec} batch (offsets ${batch.baseOffset}..${batch.lastOffset}): ${batch.reason}. ` +
        'Set skipUndecodableBatches to write it to the DLT as a stub and move past it',
    );
    return { ready: reasons.length === 0, reasons };
  }

  get blockedPartitions(): number {
    return this.blocked.size;
  }

  private block(record: UndecodableRecord): 'blocked' {
    const known = this.blocked.get(record.partitionId);
    this.options.holdPartition(record.partitionId, Date.now() + UndecodableBatchIntake.recheckMs);
    if (known?.batch.baseOffset === record.batch.baseOffset) return 'blocked';
    this.blocked.set(record.partitionId, record);
    this.report(record, 'blocked');
    return 'blocked';
  }

  private skip(record: UndecodableRecord, epoch: number): 'taken' {
    this.options.track(record);
    const key = `${record.partitionId}@${record.batch.baseOffset}`;
    const stub = this.stubbed.get(key);
    if (stub?.written) this.options.complete(record, epoch);
    else if (stub) stub.waiting.push(record);
    else {
      const batch: StubbedBatch = { written: false, waiting: [record] };
      this.stubbed.set(key, batch);
      this.blocked.delete(record.partitionId);
      this.report(record, 'skipped');
      void this.writeStub(record, epoch).then((written) => {
        if (!written) return;
        batch.written = true;
        for (const waiting of batch.waiting.splice(0)) this.options.complete(waiting, epoch);
      });
    }
    return 'taken';
  }

  /** Until the DLT acknowledges (true), or the partition is no longer this member's in `epoch` (false). */
  private async writeStub(record: UndecodableRecord, epoch: number): Promise<boolean> {
    const { topic, sourceTopic, partition, partitionId, batch } = record;
    const now = Date.now();
    const stub: ConsumedRecord = { topic, sourceTopic, partition, partitionId, offset: batch.baseOffset, key: null, value: null, headers: {}, rawHeaders: [], timestamp: String(now), tier: 0, retry: firstVisit, size: 0 };
    const error = undecodableBatchError(record);
    const failure: ForwardFailure = { reason: 'undecodable-batch', attempt: 0, firstFailureAt: now, error };
    const origin: RecordOrigin = { topic, partition, offset: batch.baseOffset, timestamp: String(now) };
    for (let attempt = 1; this.options.isCurrent(epoch); attempt++) {
      try {
        await this.options.deadLetter(stub, failure, origin);
        return true;
      } catch (forwardError) {
        const waitMs = Math.min(UndecodableBatchIntake.stubRetryMaxMs, 500 * 2 ** Math.min(attempt, 10));
        this.options.events.emit('consumer.forward.failed', { topic, partition, offset: batch.baseOffset, errorType: (forwardError as Error).name });
        this.options.logger.error({ topic, partition, offset: batch.baseOffset, attempt, retryInMs: waitMs, err: { message: (forwardError as Error).message } }, 'the DLT stub of an undecodable batch was not written; the partition waits for it');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
    return false;
  }

  private report(record: UndecodableRecord, action: 'blocked' | 'skipped'): void {
    const { topic, partition, batch } = record;
    this.options.events.emit('consumer.batch.undecodable', { topic, partition, offset: batch.baseOffset, lastOffset: batch.lastOffset, codec: batch.codec, action });
    const fields = { topic, partition, offset: batch.baseOffset, lastOffset: batch.lastOffset, records: batch.recordCount, codec: batch.codec, cause: batch.reason };
    if (action === 'blocked') this.options.logger.error(fields, 'undecodable record batch: the partition stops here until skipUndecodableBatches is set (the batch is fetched again every 30 s)');
    else this.options.logger.warn(fields, 'undecodable record batch skipped: a stub goes to the DLT with reason undecodable-batch');
  }
}

/** The error a DLT stub carries: the batch's coordinates and the cause, never its bytes. */
function undecodableBatchError({ topic, partition, batch }: UndecodableRecord): OrderlyError {
  return new OrderlyError(
    'UNDECODABLE_BATCH',
    `${batch.codec} record batch at ${topic}/${partition} offsets ${batch.baseOffset}..${batch.lastOffset} (${batch.recordCount} records) could not be decoded: ${batch.reason}`,
    { context: { topic, partition, offset: batch.baseOffset, lastOffset: batch.lastOffset, codec: batch.codec } },
  );
}
