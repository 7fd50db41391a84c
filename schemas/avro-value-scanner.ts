/**
 * A pre-scan of an Avro binary body against its writer schema, before avsc decodes it. avsc trusts the bytes:
 * it sizes an array from a varint count (`new Array(n)`), loops `n` times even when an item takes zero bytes
 * (`array<null>`), and assigns map keys with `val[key] = …`, so a `__proto__` key replaces the map's
 * prototype. The scan walks the same grammar without allocating anything, and throws a {@link DecodeError}
 * on the first problem: truncated input, trailing bytes, a count or length beyond the limits, a forbidden
 * map key, a union or enum index out of range, or nesting deeper than the limit. Only a body that passes is
 * handed to avsc.
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
}

export const defaultAvroDecodeLimits: AvroDecodeLimits = {
  maxCollectionItems: 100_000,
  maxTotalItems: 1_000_000,
  maxStringBytes: 1024 * 1024,
  maxDepth: 64,
  forbiddenMapKeys: ['__proto__', 'constructor', 'prototype'],
};

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
  position = 0;
  totalItems = 0;

  constructor(buffer: Buffer, limits: AvroDecodeLimits) {
    this.buffer = buffer;
    this.limits = limits;
    this.forbidden = new Set(limits.forbiddenMapKeys);
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
        return;
      case 'boolean':
        return this.skip(1, 'a boolean');
      case 'int':
      case 'long':
        this.readLong(`a ${shape.typeName}`);
        return;
      case 'float':
        return this.skip(4, 'a float');
      case 'double':
        return this.skip(8, 'a double');
      case 'string':
      case 'bytes':
        return this.skip(this.readLength(`a ${shape.typeName} value`), `a ${shape.typeName} value`);
      case 'fixed':
        return this.skip(shape.size ?? 0, 'a fixed value');
      case 'enum': {
        const index = this.readLong('an enum index');
        if (index < 0 || index >= (shape.symbols?.length ?? 0)) throw new DecodeError('invalid-data', `enum index ${index} is out of range`);
        return;
      }
      case 'record':
      case 'error':
        for (const field of shape.fields ?? []) this.value(field.type, depth + 1);
        return;
      case 'array':
        return this.blocks('an array', () => this.value(shape.itemsType as Type, depth + 1));
      case 'map':
        return this.blocks('a map', () => {
          const length = this.readLength('a map key');
          const start = this.position;
          this.skip(length, 'a map key');
          const key = this.buffer.toString('utf8', start, start + length);
          if (this.forbidden.has(key)) throw new DecodeError('forbidden-key', `the map key ${JSON.stringify(key)} is refused (forbiddenMapKeys)`);
          this.value(shape.valuesType as Type, depth + 1);
        });
      case 'union:unwrapped':
      case 'union:wrapped': {
        const index = this.readLong('a union index');
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
