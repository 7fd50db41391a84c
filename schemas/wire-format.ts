/**
 * The Confluent wire format: magic byte 0, the writer schema id as a 4-byte big-endian integer, then the Avro
 * binary body. Shared by the encoder (producers) and the codec (consumers).
 */
import { DecodeError } from './decode-error.ts';

export const magicByte = 0;
/** Magic byte plus schema id. */
export const wireHeaderLength = 5;

export function encodeWireFormat(schemaId: number, body: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(wireHeaderLength + body.length);
  framed.writeUInt8(magicByte, 0);
  framed.writeInt32BE(schemaId, 1);
  body.copy(framed, wireHeaderLength);
  return framed;
}

export interface WireFrame {
  schemaId: number;
  /** A view on the input, not a copy. */
  body: Buffer;
}

/** Splits a framed value; throws {@link DecodeError} (`empty-value`, `too-short`, `bad-magic-byte`). */
export function parseWireFormat(value: Buffer | null): WireFrame {
  if (value === null || value.length === 0) throw new DecodeError('empty-value', 'the record has no value');
  if (value.length < wireHeaderLength) {
    throw new DecodeError('too-short', `the value has ${value.length} bytes; the Confluent wire format needs at least ${wireHeaderLength}`);
  }
  if (value[0] !== magicByte) {
    throw new DecodeError('bad-magic-byte', `the value starts with byte ${value[0]}, not the wire format's magic byte ${magicByte}`);
  }
  return { schemaId: value.readInt32BE(1), body: value.subarray(wireHeaderLength) };
}
