import { DecodeError } from './decode-error.ts';
import type { ValueDecoder } from './value-decoder.ts';

/** JSON values. `__proto__` keys are kept as plain data by JSON.parse and never touch a prototype. */
export const jsonDecoder: ValueDecoder = {
  decode(value) {
    if (value === null || value.length === 0) throw new DecodeError('empty-value', 'the record has no value');
    try {
      return JSON.parse(value.toString('utf8')) as unknown;
    } catch (error) {
      throw new DecodeError('invalid-json', 'the value is not valid JSON', { cause: error });
    }
  },
};

/** The value as it came: a Buffer, or null for a tombstone. */
export const rawDecoder: ValueDecoder<Buffer | null> = {
  decode: (value) => value,
};
