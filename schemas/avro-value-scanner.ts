/**
 * A pre-scan of an Avro binary body against its writer schema, before avsc decodes it. avsc trusts the bytes:
 * it sizes an array from a varint count (`new Array(n)`), loops `n` times even when an item takes zero bytes
 * (`array<null>`), and assigns map keys with `val[key] = …`, so a `__proto__` key replaces the map's
 * prototype. The scan walks the same grammar without allocating anything, and throws a {@link DecodeError}
 * on the first problem: truncated input, trailing bytes, a count or length beyond the limits, a forbidden
 * map key, a union or enum index out of range, or nesting deeper than the limit. Only a body that passes is
 * handed to avsc.
 *
 * It is as strict as Java's `BinaryDecoder`: an `int` takes at most 5 bytes and fits 32 bits (avsc reads
 * 2^40), a `long` at most 10, a boolean is the byte 0 or 1 (avsc reads 7 as true). And it bounds what
 * decoding builds: each value is charged an estimate of its decoded size (8 bytes a number or null, 16 plus
 * the length a string, 32 an object or array), and the total may not pass `maxDecodedBytesPerInputByte`
 * times the input's length (or `decodedBytesAllowance` for a small input), so 45 bytes cannot become a
 * million empty records.
 */
import type { Type } from 'avsc';
import { DecodeError } from './decode-error.ts';

export interface AvroDecodeLimits {
  /** Items in one array or entries in one map (over all its blocks). @defaultValue 100000 */
  maxCollectionItems: number;
  /** Items and entries in the whole value, over every collection: bounds memory when items take no bytes. @defaultValue 1000000 */
  maxTotalItems: number;
  /** Length of one string, bytes value or map key, in bytes. @defaultValue 1048576 (1 MiB) */
  maxStringBytes: number;
  /** Nesting of records, arrays, maps and unions (recursive schemas). @defaultValue 64 */
  maxDepth: number;
  /** Map keys refused with `forbidden-key`. @defaultValue `['__proto__', 'constructor', 'prototype']` */
  forbiddenMapKeys: readonly string[];
  /**
   * Estimated bytes of decoded value per byte of Avro input (`limit-exceeded` beyond). Ordinary records
   * expand 2-10 times; items that take no bytes (empty records, nulls) are what passes it. @defaultValue 64
   */
  maxDecodedBytesPerInputByte: number;
  /** Estimated decoded bytes always allowed, however short the input (a record of many null fields). @defaultValue 65536 (64 KiB) */
  decodedBytesAllowance: number;
}

export const defaultAvroDecodeLimits: AvroDecodeLimits = {
  maxCollectionItems: 100_000,
  maxTotalItems: 1_000_000,
  maxStringBytes: 1024 * 1024,
  maxDepth: 64,
  forbiddenMapKeys: ['__proto__', 'constructor', 'prototype'],
  maxDecodedBytesPerInputByte: 64,
  decodedBytesAllowance: 64 * 1024,
};

/** Estimated decoded sizes, in bytes: a number, boolean or null slot; an object or array; a string's header. */
const slotBytes = 8;
const objectBytes = 32;
const stringHeaderBytes = 16;

interface AvroTypeShape {
  typeName: string;
  fields?: { type: Type }[];
  types?: Type[];
  symbols?: string[];
  size?: number;
  itemsType?: Type;
  valuesType?: Type;
  underlyingType?: Type;
}

class Scan {
  readonly buffer: Buffer;
  readonly limits: AvroDecodeLimits;
  readonly forbidden: Set<string>;
  readonly maxDecodedBytes: number;
  position = 0;
  totalItems = 0;
  decodedBytes = 0;

  constructor(buffer: Buffer, limits: AvroDecodeLimits) {
    this.buffer = buffer;
    this.limits = limits;
    this.forbidden = new Set(limits.forbiddenMapKeys);
    this.maxDecodedBytes = Math.max(limits.decodedBytesAllowance, buffer.length * limits.maxDecodedBytesPerInputByte);
  }

  charge(bytes: number): void {
    this.decodedBytes += bytes;
    if (this.decodedBytes > this.maxDecodedBytes) {
      throw new DecodeError(
        'limit-exceeded',
        `the value would decode to more than ${this.maxDecodedBytes} bytes from ${this.buffer.length} bytes of input (maxDecodedBytesPerInputByte ${this.limits.maxDecodedBytesPerInputByte}, decodedBytesAllowance ${this.limits.decodedBytesAllowance})`,
      );
    }
  }

  /** An Avro int as Java reads it: at most 5 bytes, within 32 bits. */
  readInt(): number {
    const start = this.position;
    const value = this.readLong('an int');
    if (this.position - start > 5 || value > 2_147_483_647 || value < -2_147_483_648) {
      throw new DecodeError('invalid-data', `an int is encoded in ${this.position - start} bytes as ${value}: beyond 32 bits`);
    }
    return value;
  }

  truncated(what: string): never {
    throw new DecodeError('truncated', `the Avro body ends inside ${what} (${this.buffer.length} bytes)`);
  }

  /** A zigzag varint long, exact up to 2^53; larger magnitudes come back as Infinity (always over a limit). */
  readLong(what: string): number {
    let result = 0;
    let multiplier = 1;
    for (let index = 0; index < 10; index += 1) {
      if (this.position >= this.buffer.length) this.truncated(what);
      const byte = this.buffer[this.position++] as number;
      result += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) return result % 2 === 0 ? Infinity : -Infinity;
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      }
    }
    throw new DecodeError('invalid-data', `a varint in ${what} is longer than 10 bytes`);
  }

  skip(length: number, what: string): void {
    if (this.position + length > this.buffer.length) this.truncated(what);
    this.position += length;
  }

  readLength(what: string): number {
    const length = this.readLong(`the length of ${what}`);
    if (length < 0) throw new DecodeError('invalid-data', `${what} has a negative length ${length}`);
    if (length > this.limits.maxStringBytes) {
      throw new DecodeError('limit-exceeded', `${what} is ${length} bytes long; the limit (maxStringBytes) is ${this.limits.maxStringBytes}`);
    }
    return length;
  }

  /** Walks the blocks of an array or map, calling `item` once per item, within the count limits. */
  blocks(what: string, item: () => void): void {
    let items = 0;
    for (;;) {
      let count = this.readLong(`the block count of ${what}`);
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        this.readLong(`the block size of ${what}`);
      }
      items += count;
      this.totalItems += count;
      if (items > this.limits.maxCollectionItems) {
        throw new DecodeError('limit-exceeded', `${what} declares ${items} items; the limit (maxCollectionItems) is ${this.limits.maxCollectionItems}`);
      }
      if (this.totalItems > this.limits.maxTotalItems) {
        throw new DecodeError('limit-exceeded', `the value declares ${this.totalItems} collection items; the limit (maxTotalItems) is ${this.limits.maxTotalItems}`);
      }
      for (let index = 0; index < count; index += 1) item();
    }
  }

  value(type: Type, depth: number): void {
    if (depth > this.limits.maxDepth) {
      throw new DecodeError('limit-exceeded', `the value nests deeper than ${this.limits.maxDepth} levels (maxDepth)`);
    }
    const shape = type as unknown as AvroTypeShape;
    switch (shape.typeName) {
      case 'null':
        return this.charge(slotBytes);
      case 'boolean': {
        if (this.position >= this.buffer.length) this.truncated('a boolean');
        const byte = this.buffer[this.position++] as number;
        if (byte > 1) throw new DecodeError('invalid-data', `a boolean is the byte ${byte}, not 0 or 1`);
        return this.charge(slotBytes);
      }
      case 'int':
        this.readInt();
        return this.charge(slotBytes);
      case 'long':
        this.readLong('a long');
        return this.charge(slotBytes);
      case 'float':
        this.skip(4, 'a float');
        return this.charge(slotBytes);
      case 'double':
        this.skip(8, 'a double');
        return this.charge(slotBytes);
      case 'string':
      case 'bytes': {
        const length = this.readLength(`a ${shape.typeName} value`);
        this.skip(length, `a ${shape.typeName} value`);
        return this.charge(stringHeaderBytes + length);
      }
      case 'fixed':
        this.skip(shape.size ?? 0, 'a fixed value');
        return this.charge(stringHeaderBytes + (shape.size ?? 0));
      case 'enum': {
        const index = this.readInt();
        if (index < 0 || index >= (shape.symbols?.length ?? 0)) throw new DecodeError('invalid-data', `enum index ${index} is out of range`);
        return this.charge(slotBytes);
      }
      case 'record':
      case 'error':
        this.charge(objectBytes);
        for (const field of shape.fields ?? []) this.value(field.type, depth + 1);
        return;
      case 'array':
        this.charge(objectBytes);
        return this.blocks('an array', () => this.value(shape.itemsType as Type, depth + 1));
      case 'map':
        this.charge(objectBytes);
        return this.blocks('a map', () => {
          const length = this.readLength('a map key');
          this.charge(stringHeaderBytes + length);
          const start = this.position;
          this.skip(length, 'a map key');
          const key = this.buffer.toString('utf8', start, start + length);
          if (this.forbidden.has(key)) throw new DecodeError('forbidden-key', `the map key ${JSON.stringify(key)} is refused (forbiddenMapKeys)`);
          this.value(shape.valuesType as Type, depth + 1);
        });
      case 'union:unwrapped':
      case 'union:wrapped': {
        const index = this.readInt();
        if (shape.typeName === 'union:wrapped') this.charge(objectBytes);
        const branch = index >= 0 ? shape.types?.[index] : undefined;
        if (branch === undefined) throw new DecodeError('invalid-data', `union index ${index} is out of range`);
        return this.value(branch, depth + 1);
      }
      default:
        if (shape.underlyingType) return this.value(shape.underlyingType, depth);
        throw new DecodeError('invalid-data', `the writer schema has a type the scan does not know: ${shape.typeName}`);
    }
  }
}

/** Throws {@link DecodeError} unless `body` is exactly one value of `writerType` within `limits`. */
export function scanAvroValue(writerType: Type, body: Buffer, limits: AvroDecodeLimits = defaultAvroDecodeLimits): void {
  const scan = new Scan(body, limits);
  scan.value(writerType, 0);
  if (scan.position !== body.length) {
    throw new DecodeError('trailing-bytes', `${body.length - scan.position} bytes follow the Avro value (${body.length} bytes in all)`);
  }
}
