/**
 * Intake: a fetched message becomes a {@link ConsumedRecord} that owns its bytes and carries everything parsed
 * from its headers once (its tier and retry state, its byte size), so nothing downstream parses them again.
 */
import { headerNames, rawHeadersOf, readHeaders, readRawHeader, textOf, type RecordHeader } from '../core/headers.ts';
import type { IHeaders, KafkaMessage } from '../core/kafka-client.ts';
import { readDelay, readDelayWith, type DelayInfo } from './delays/delay-headers.ts';
import type { RecordEmits } from './transactions/record-emits.ts';

export { readHeader, readHeaders } from '../core/headers.ts';

/** Where a record stands on the retry ladder, read from its headers at intake (a source record: {@link firstVisit}). */
export interface RetryState {
  /** Handler attempts made so far, over every visit. */
  attempts: number;
  /** Tiers climbed for the event's own failures (0 in the source topic). */
  level: number;
  /** When the first attempt failed, epoch ms. */
  firstFailureAt: number | undefined;
  /** When this tier record may be handled, epoch ms; capped to `now + maxDelayMs`. */
  dueAt: number;
  /** Where the record was first consumed. */
  originalOffset: string | undefined;
  /** The source record's timestamp, as first consumed. */
  originalTimestamp: string | undefined;
}

/** A source record's retry state: it has not failed yet. */
export const firstVisit: RetryState = Object.freeze({ attempts: 0, level: 0, firstFailureAt: undefined, dueAt: 0, originalOffset: undefined, originalTimestamp: undefined });

/** A fetched record, copied out of the fetch response so holding it does not pin the whole response. */
export interface ConsumedRecord {
  topic: string;
  /** The source topic: `topic` itself, or the source of a retry tier. */
  sourceTopic: string;
  partition: number;
  /** `topic` and `partition` as one string, made once per fetched batch: the key of per-partition state. */
  partitionId: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The headers to read (null prototype; a value that is valid UTF-8 as a string, any other a Buffer). */
  headers: IHeaders;
  /** The headers as on the wire, in order, byte for byte: what a forward sends. */
  rawHeaders: RecordHeader[];
  timestamp: string;
  /** The retry tier the record was consumed from (0: the source topic). */
  tier: number;
  /** Its retry state, parsed once here. */
  retry: RetryState;
  /** Bytes it holds (key, value, headers and a fixed overhead): what the memory bound counts. */
  size: number;
  /** A delayed event's due time or a cancel record (consumers/delays/), read at intake; undefined for most records. */
  delay?: DelayInfo;
  /** Held in memory until due and released (see {@link LaneRecord.released}): set by the consumer's release. */
  released?: boolean;
  /** `transactional`: what its handler emitted, set when it succeeded; written by its shard's transaction. */
  emits?: RecordEmits;
}

/** The key of per-partition state (offsets, backpressure, pauses). */
export function partitionIdOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** What a record object costs beyond its bytes (object, strings, header entries). */
const recordOverheadBytes = 256;
const headerOverheadBytes = 64;

/**
 * A fetched message as a record that owns its bytes: the key, value and headers are copied (the headers into
 * one buffer), its tier and retry state read. kafkajs hands out slices of the fetch response, so a record kept
 * past its batch would otherwise pin the whole response in memory.
 */
export function consumedRecordOf(message: KafkaMessage, topic: string, sourceTopic: string, partition: number, partitionId: string, tier = 0, retry: RetryState = firstVisit): ConsumedRecord {
  const list = rawHeadersOf(message.headers);
  const keyBytes = message.key === null || message.key === undefined ? null : message.key;
  const valueBytes = message.value;
  // Key, value and header bytes copied into one allocation: one buffer object instead of one per part.
  let headerBytes = 0;
  for (const { name, value } of list) headerBytes += name.length + (value?.length ?? 0);
  const total = (keyBytes?.length ?? 0) + (valueBytes?.length ?? 0) + headerBytes;
  const bytes = Buffer.allocUnsafe(total + positionBytes * list.length);
  let at = 0;
  const key = keyBytes === null ? null : bytes.subarray(at, (at += keyBytes.copy(bytes, at)));
  const value = valueBytes === null ? null : bytes.subarray(at, (at += valueBytes.copy(bytes, at)));
  // Headers stay bytes, with their positions after them in the same allocation (no array per record): a header
  // is decoded when it is read ({@link FetchedRecord.headerText}).
  for (let index = 0; index < list.length; index++) {
    const header = list[index]!;
    const slot = total + positionBytes * index;
    bytes.writeInt32LE(at, slot);
    bytes.writeInt32LE((at += header.name.copy(bytes, at)), slot + 4);
    bytes.writeInt32LE(header.value === null ? -1 : at, slot + 8);
    bytes.writeInt32LE(header.value === null ? -1 : (at += header.value.copy(bytes, at)), slot + 12);
  }
  const size = recordOverheadBytes + total + list.length * headerOverheadBytes + headerBytes;
  return new FetchedRecord(topic, sourceTopic, partition, partitionId, message.offset, key, value, bytes, total, list.length, message.timestamp, tier, retry, size);
}

/** Per header, its name's start and end and its value's start and end (-1, -1 for a null value), as int32. */
const positionBytes = 16;

/**
 * One header of a record, as {@link readRawHeader} reads it (the last of that name, as UTF-8 text), from the
 * record's header bytes when it keeps them so (no header list is built).
 */
export function recordHeader(record: ConsumedRecord, name: string): string | undefined {
  return record instanceof FetchedRecord ? record.headerText(name) : readRawHeader(record.rawHeaders, name);
}

/** A record's delay headers (consumers/delays/), read from its header bytes when it keeps them so. */
export function recordDelay(record: ConsumedRecord): DelayInfo | undefined {
  return record instanceof FetchedRecord ? readDelayWith(record, record.value) : readDelay(record.rawHeaders, record.value);
}

/** A {@link ConsumedRecord} whose header list and readable `headers` are built on first read. */
class FetchedRecord implements ConsumedRecord {
  readonly topic: string;
  readonly sourceTopic: string;
  readonly partition: number;
  readonly partitionId: string;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly tier: number;
  readonly retry: RetryState;
  readonly size: number;
  schedulerLane: unknown;
  delay: DelayInfo | undefined = undefined;
  released = false;
  /** The record's bytes: key, value, each header's name and value, then the headers' positions. */
  private readonly bytes: Buffer;
  /** Where the headers' positions start in `bytes`: per header its name's start and end and its value's start and end (-1, -1 for a null value). */
  private readonly positionsAt: number;
  private readonly headerCount: number;
  private list: RecordHeader[] | undefined;
  private readable: IHeaders | undefined;

  constructor(topic: string, sourceTopic: string, partition: number, partitionId: string, offset: string, key: Buffer | null, value: Buffer | null, bytes: Buffer, positionsAt: number, headerCount: number, timestamp: string, tier: number, retry: RetryState, size: number) {
    this.topic = topic;
    this.sourceTopic = sourceTopic;
    this.partition = partition;
    this.partitionId = partitionId;
    this.offset = offset;
    this.key = key;
    this.value = value;
    this.bytes = bytes;
    this.positionsAt = positionsAt;
    this.headerCount = headerCount;
    this.timestamp = timestamp;
    this.tier = tier;
    this.retry = retry;
    this.size = size;
    this.schedulerLane = undefined;
    this.list = undefined;
    this.readable = undefined;
  }

  get rawHeaders(): RecordHeader[] {
    if (this.list) return this.list;
    const { bytes, positionsAt } = this;
    const list = new Array<RecordHeader>(this.headerCount);
    for (let index = 0, slot = positionsAt; index < list.length; index++, slot += positionBytes) {
      const valueStart = bytes.readInt32LE(slot + 8);
      list[index] = { name: bytes.subarray(bytes.readInt32LE(slot), bytes.readInt32LE(slot + 4)), value: valueStart < 0 ? null : bytes.subarray(valueStart, bytes.readInt32LE(slot + 12)) };
    }
    return (this.list = list);
  }

  /** The last header named `name`, as UTF-8 text (undefined if absent, null, or not UTF-8), read from the bytes. */
  headerText(name: string): string | undefined {
    const { bytes } = this;
    for (let slot = this.positionsAt + positionBytes * (this.headerCount - 1); slot >= this.positionsAt; slot -= positionBytes) {
      const start = bytes.readInt32LE(slot);
      if (bytes.readInt32LE(slot + 4) - start !== name.length) continue;
      let same = true;
      for (let at = 0; at < name.length && same; at++) same = bytes[start + at] === name.charCodeAt(at);
      if (!same) continue;
      const valueStart = bytes.readInt32LE(slot + 8);
      if (valueStart < 0) return undefined;
      const valueEnd = bytes.readInt32LE(slot + 12);
      let ascii = valueEnd - valueStart <= 256;
      for (let at = valueStart; at < valueEnd && ascii; at++) ascii = bytes[at]! < 0x80;
      return ascii ? bytes.toString('latin1', valueStart, valueEnd) : textOf(bytes.subarray(valueStart, valueEnd));
    }
    return undefined;
  }

  get headers(): IHeaders {
    return (this.readable ??= readableHeaders(this.rawHeaders));
  }

  set headers(headers: IHeaders) {
    this.readable = headers;
  }
}

/** The object form to read: own keys only, on a null prototype, so no name is ever an inherited value. */
function readableHeaders(list: readonly RecordHeader[]): IHeaders {
  const headers = Object.create(null) as IHeaders;
  for (const { name, value } of list) {
    const key = textOf(name) ?? name.toString('utf8');
    const item = value === null ? undefined : (textOf(value) ?? value);
    const given = headers[key];
    if (!Object.hasOwn(headers, key)) headers[key] = item;
    else headers[key] = (Array.isArray(given) ? [...given, item] : [given, item]) as IHeaders[string];
  }
  return headers;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,16}$/.test(text.trim())) return undefined;
  return Number(text);
}

export const maxRecordedAttempts = 10_000;

/**
 * The retry state of a record on the ladder, read defensively: the last value wins, numbers are clamped, a
 * due time far in the future is capped, and anything unreadable falls back to a safe default.
 */
export function readRetryState(headers: IHeaders, { now, maxDelayMs }: { now: number; maxDelayMs: number }): RetryState {
  const read = readHeaders(headers);
  const attempts = Math.min(Math.max(integer(read[headerNames.attempt]) ?? 0, 0), maxRecordedAttempts);
  const due = integer(read[headerNames.dueAt]);
  const firstFailure = integer(read[headerNames.firstFailureAt]) ?? Date.parse(read[headerNames.firstFailureAt] ?? '');
  const originalOffset = read[headerNames.originalOffset];
  const originalTimestamp = read[headerNames.originalTimestamp];
  return {
    attempts,
    level: Math.min(Math.max(integer(read[headerNames.level]) ?? 0, 0), 100),
    dueAt: due === undefined ? now : Math.min(Math.max(due, 0), now + maxDelayMs),
    firstFailureAt: Number.isFinite(firstFailure) ? firstFailure : undefined,
    originalOffset: originalOffset !== undefined && /^\d{1,20}$/.test(originalOffset) ? originalOffset : undefined,
    originalTimestamp: originalTimestamp !== undefined && /^\d{1,20}$/.test(originalTimestamp) ? originalTimestamp : undefined,
  };
}
