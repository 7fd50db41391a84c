/**
 * Record headers read and written byte for byte by kafkajs. Its record decoder folds headers into a plain
 * object: a name that `Object.prototype` already has (`constructor`, `toString`, `__proto__`) comes back as
 * `[inherited function, value]`, order and non-UTF-8 names are lost, and a forward of such a record throws on
 * every try. Its record encoder writes names as UTF-8 strings only.
 *
 * kafkajs loads its fetch and produce protocol modules lazily, on the first request, so before that happens
 * this module puts two replacements in Node's module cache, each a copy of kafkajs 2.2.4's own with only the
 * headers changed:
 * - the decoder returns headers as a null-prototype object (repeats as arrays) that also carries the
 *   ordered list of (name bytes, value bytes) under {@link rawHeadersKey};
 * - the encoder writes that list, when a headers object carries one, instead of the object's properties.
 * Installed once, by importing kafka-client.ts; a check in the unit tests fails if kafkajs's files change.
 */
import { createRequire } from 'node:module';
import { rawHeadersKey, type RecordHeader } from './headers.ts';

const require = createRequire(import.meta.url);

interface Decoder {
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readVarIntBytes(): Buffer | null;
}
interface EncoderInstance {
  writeVarInt(value: number): EncoderInstance;
  writeInt8(value: number): EncoderInstance;
  writeVarLong(value: unknown): EncoderInstance;
  writeVarIntBytes(value: Buffer | string | null | undefined): EncoderInstance;
  writeVarIntArray(values: EncoderInstance[]): EncoderInstance;
}
interface EncoderClass {
  new (): EncoderInstance;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
  sizeOfVarIntBytes(value: Buffer | string | null | undefined): number;
}
interface LongClass {
  fromValue(value: unknown): { add(other: unknown): { toString(): string } };
}

type HeadersObject = Record<string, Buffer | string | (Buffer | string | undefined)[] | undefined | null>;

/** The headers of one record, read from the wire: the ordered list, and the object form carrying it. */
function decodeHeaders(decoder: Decoder): HeadersObject {
  const count = decoder.readVarInt();
  const list: RecordHeader[] = [];
  const headers = Object.create(null) as HeadersObject;
  for (let index = 0; index < count; index++) {
    // The decoder's slices point into the fetch response: the consumer copies what it keeps.
    const name = decoder.readVarIntBytes() ?? Buffer.alloc(0);
    const value = decoder.readVarIntBytes();
    list.push({ name, value });
    const key = name.toString('utf8');
    const given = headers[key];
    if (given === undefined) headers[key] = value as Buffer;
    else headers[key] = Array.isArray(given) ? [...given, value as Buffer] : [given as Buffer, value as Buffer];
  }
  Object.defineProperty(headers, rawHeadersKey, { value: list, enumerable: false });
  return headers;
}

function headerListOf(headers: HeadersObject | undefined): RecordHeader[] {
  if (!headers) return [];
  const raw = (headers as { [rawHeadersKey]?: RecordHeader[] })[rawHeadersKey];
  if (Array.isArray(raw)) return raw;
  const list: RecordHeader[] = [];
  for (const name of Object.keys(headers)) {
    const given = headers[name];
    for (const value of Array.isArray(given) ? given : [given]) {
      // kafkajs writes `String(value)` for a non-Buffer value, and null as a null value.
      const bytes = value === null || value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
      list.push({ name: Buffer.from(name, 'utf8'), value: bytes });
    }
  }
  return list;
}

let installed = false;

/** Puts the byte-exact header decoder and encoder in place of kafkajs's own. Idempotent. */
export function installRecordHeaderCodec(): void {
  if (installed) return;
  installed = true;
  const base = 'kafkajs/src/protocol/';
  const decoderPath = require.resolve(`${base}recordBatch/record/v0/decoder.js`);
  const encoderPath = require.resolve(`${base}recordBatch/record/v0/index.js`);
  const Long = require(require.resolve('kafkajs/src/utils/long.js')) as LongClass;
  const Encoder = require(require.resolve(`${base}encoder.js`)) as EncoderClass;
  const TimestampTypes = require(require.resolve(`${base}timestampTypes.js`)) as { LOG_APPEND_TIME: number };

  // kafkajs 2.2.4 recordBatch/record/v0/decoder.js, headers aside.
  const decodeRecord = (decoder: Decoder, batchContext: Record<string, unknown> = {}) => {
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const attributes = decoder.readInt8();
    const timestampDelta = decoder.readVarLong();
    const timestamp =
      timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : Long.fromValue(firstTimestamp).add(timestampDelta).toString();
    const offsetDelta = decoder.readVarInt();
    const offset = Long.fromValue(firstOffset).add(offsetDelta).toString();
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const headers = decodeHeaders(decoder);
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };

  // kafkajs 2.2.4 recordBatch/record/v0/index.js, headers aside: names are bytes, in the list's order.
  const encodeRecord = ({ offsetDelta = 0, timestampDelta = 0, key, value, headers }: { offsetDelta?: number; timestampDelta?: unknown; key: Buffer | string | null; value: Buffer | string | null; headers?: HeadersObject }) => {
    const list = headerListOf(headers);
    let sizeOfHeaders = Encoder.sizeOfVarInt(list.length);
    for (const header of list) sizeOfHeaders += Encoder.sizeOfVarIntBytes(header.name) + Encoder.sizeOfVarIntBytes(header.value);
    const sizeOfBody = 1 + Encoder.sizeOfVarLong(timestampDelta) + Encoder.sizeOfVarInt(offsetDelta) + Encoder.sizeOfVarIntBytes(key) + Encoder.sizeOfVarIntBytes(value) + sizeOfHeaders;
    return new Encoder()
      .writeVarInt(sizeOfBody)
      .writeInt8(0)
      .writeVarLong(timestampDelta)
      .writeVarInt(offsetDelta)
      .writeVarIntBytes(key)
      .writeVarIntBytes(value)
      .writeVarIntArray(list.map((header) => new Encoder().writeVarIntBytes(header.name).writeVarIntBytes(header.value)));
  };

  for (const [path, exports] of [
    [decoderPath, decodeRecord],
    [encoderPath, encodeRecord],
  ] as const) {
    const cached = require.cache[path];
    if (cached) cached.exports = exports;
    else {
      // Not loaded yet (the usual case): a module record whose exports kafkajs will get when it requires the path.
      const loaded = require(path) as unknown;
      void loaded;
      require.cache[path]!.exports = exports;
    }
  }
  // The modules that captured the originals at load time must not be loaded yet: check, and say so loudly.
  for (const dependent of [`${base}recordBatch/v0/decoder.js`, `${base}requests/produce/v3/request.js`]) {
    if (require.cache[require.resolve(dependent)]) throw new Error(`kafkajs loaded ${dependent} before Orderly's record header codec was installed`);
  }
}
