/**
 * A record batch whose payload cannot be decompressed (a corrupt payload, a codec id no Kafka client knows,
 * a payload that expands past the bound) must not fail the whole fetch: kafkajs decodes every partition of a
 * broker's fetch response in one pass and throws away all of them when one batch throws, so one bad batch
 * would stop every partition the broker leads, and kafkajs's error names none of them.
 *
 * So the codecs registered with kafkajs answer such a batch with *markers*: one empty record per record the
 * batch holds, at the batch's own offsets. kafkajs then hands them to the consumer like any records, on their
 * real topic and partition, and the other partitions go on. A marker is told apart by the memory its value
 * lives in (a buffer only this module makes), so no producer can forge one.
 *
 * How the batch is found: kafkajs hands a codec the compressed bytes as a view into the fetch response, right
 * after the batch header, so the 61 header bytes before it give the base offset, the last offset delta and
 * the record count. Each is checked (magic 2, the length field, the codec id) before it is trusted.
 */

/** What a marker says about its batch. Offsets are strings (64-bit). */
export interface UndecodableBatch {
  /** The first offset of the batch. */
  baseOffset: string;
  /** The last offset of the batch. */
  lastOffset: string;
  /** Records the batch header announces. */
  recordCount: number;
  /** The codec named by the batch attributes: `lz4`, `zstd`, ..., or `unknown-5`. */
  codec: string;
  /** Why it could not be decoded (the codec's error message, truncated). */
  reason: string;
}

/** Batch header bytes before the compressed records: base offset (8) to record count (4). */
const headerBytes = 61;
/** From `partitionLeaderEpoch` to the records: what the batch length field counts besides them. */
const lengthFieldOverhead = 49;
const codecMask = 0x07;
const controlBatchFlag = 0x20;
/** More markers than this for one batch is not a batch a producer wrote (the header itself is corrupt). */
const maxMarkers = 1_000_000;
const reasonLimit = 300;

const markerBuffers = new WeakMap<ArrayBufferLike, UndecodableBatch>();

interface BatchHeader {
  baseOffset: bigint;
  lastOffsetDelta: number;
  recordCount: number;
  codecId: number;
}

/** The header of the batch whose compressed records `compressed` is, or undefined when it cannot be read safely. */
export function batchHeaderBefore(compressed: Buffer, codecId: number): BatchHeader | undefined {
  if (compressed.byteOffset < headerBytes) return undefined;
  const header = Buffer.from(compressed.buffer, compressed.byteOffset - headerBytes, headerBytes);
  const magic = header.readInt8(16);
  const length = header.readInt32BE(8);
  const attributes = header.readInt16BE(21);
  if (magic !== 2 || length !== lengthFieldOverhead + compressed.length) return undefined;
  if ((attributes & codecMask) !== codecId || (attributes & controlBatchFlag) !== 0) return undefined;
  const recordCount = header.readInt32BE(57);
  const lastOffsetDelta = header.readInt32BE(23);
  if (recordCount <= 0 || recordCount > maxMarkers || lastOffsetDelta < recordCount - 1) return undefined;
  return { baseOffset: header.readBigInt64BE(0), lastOffsetDelta, recordCount, codecId };
}

/**
 * The decompressed records of a batch, in the form kafkajs decodes: `recordCount` records of one record
 * each as the v2 record format lays it out (length-prefixed with a zigzag varint). Undefined when they are not.
 */
export function recordsAreWellFormed(records: Buffer, recordCount: number): boolean {
  const reader = { position: 0 };
  for (let index = 0; index < recordCount; index++) {
    const length = readVarInt(records, reader);
    if (length === undefined || length < 0 || reader.position + length > records.length) return false;
    const end = reader.position + length;
    if (!recordIsWellFormed(records, reader.position, end)) return false;
    reader.position = end;
  }
  return reader.position === records.length;
}

/** attributes, timestamp delta, offset delta, key, value, headers: every length inside the record. */
function recordIsWellFormed(buffer: Buffer, start: number, end: number): boolean {
  const reader = { position: start + 1 };
  if (reader.position > end) return false;
  if (readVarInt(buffer, reader, 10) === undefined || readVarInt(buffer, reader) === undefined) return false;
  for (let field = 0; field < 2; field++) {
    const length = readVarInt(buffer, reader);
    if (length === undefined || length < -1) return false;
    reader.position += Math.max(0, length);
    if (reader.position > end) return false;
  }
  const headerCount = readVarInt(buffer, reader);
  if (headerCount === undefined || headerCount < -1 || headerCount > end - reader.position) return false;
  for (let header = 0; header < headerCount; header++) {
    for (let field = 0; field < 2; field++) {
      const length = readVarInt(buffer, reader);
      if (length === undefined || length < (field === 0 ? 0 : -1)) return false;
      reader.position += Math.max(0, length);
      if (reader.position > end) return false;
    }
  }
  return reader.position === end;
}

/** A zigzag varint of at most `maxBytes` bytes (5 for an int32, 10 for an int64), or undefined past the end. */
function readVarInt(buffer: Buffer, reader: { position: number }, maxBytes = 5): number | undefined {
  let value = 0;
  let multiplier = 1;
  for (let count = 0; count < maxBytes; count++) {
    if (reader.position >= buffer.length) return undefined;
    const byte = buffer[reader.position++]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    multiplier *= 128;
  }
  return undefined;
}

function writeVarInt(target: number[], value: number): void {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= 0x80) {
    target.push((zigzag & 0x7f) | 0x80);
    zigzag = Math.floor(zigzag / 128);
  }
  target.push(zigzag);
}

/**
 * The records kafkajs decodes in place of an undecodable batch: one empty marker per record, the last at the
 * batch's last offset (so a compacted batch is passed whole). Their values are views of one buffer that
 * {@link undecodableBatchOf} recognises.
 */
export function markerRecords(header: BatchHeader, codec: string, reason: string): Buffer {
  const bytes: number[] = [];
  for (let index = 0; index < header.recordCount; index++) {
    const offsetDelta = index === header.recordCount - 1 ? header.lastOffsetDelta : index;
    const body: number[] = [0, 0];
    writeVarInt(body, offsetDelta);
    // key null (-1), value empty (0), no headers (0)
    body.push(1, 0, 0);
    writeVarInt(bytes, body.length);
    bytes.push(...body);
  }
  const buffer = Buffer.from(new ArrayBuffer(bytes.length));
  buffer.set(bytes);
  const baseOffset = header.baseOffset;
  markerBuffers.set(buffer.buffer, {
    baseOffset: baseOffset.toString(),
    lastOffset: (baseOffset + BigInt(header.lastOffsetDelta)).toString(),
    recordCount: header.recordCount,
    codec,
    reason: reason.length > reasonLimit ? `${reason.slice(0, reasonLimit)}...` : reason,
  });
  return buffer;
}

/** The batch a record stands for when it is a marker of an undecodable batch; undefined for every real record. */
export function undecodableBatchOf(message: { value: Buffer | null }): UndecodableBatch | undefined {
  const value = message.value;
  if (value === null || value.length !== 0) return undefined;
  return markerBuffers.get(value.buffer);
}
