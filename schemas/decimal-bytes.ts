/**
 * Avro `decimal` values as Orderly's codec reads and writes them: no logical-type hook, so the value is the
 * underlying `bytes` (or `fixed`), the unscaled integer in big-endian two's complement. These convert it to and
 * from exact decimal text (`"-12.50"` at scale 2), never through a float.
 */
import { OrderlyError } from '../core/errors.ts';

/** The decimal text of `bytes` at `scale`: `Buffer.from([0x04, 0xe2])` at scale 2 is `"12.50"`. */
export function decimalFromBytes(bytes: Buffer, scale: number): string {
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes.length > 0 && (bytes[0]! & 0x80) !== 0) unscaled -= 1n << BigInt(bytes.length * 8);
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = scale > 0 ? `.${digits.slice(digits.length - scale)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/**
 * The bytes of decimal text at `scale`, the fewest that hold it (or exactly `size` for a `fixed`). Text with
 * more fraction digits than `scale`, or a value that does not fit in `size` bytes, throws: never rounded.
 */
export function decimalToBytes(text: string, scale: number, size?: number): Buffer {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new OrderlyError('ENCODE', `not a decimal number: ${JSON.stringify(text.slice(0, 40))}`);
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > scale) throw new OrderlyError('ENCODE', `${text} has more than ${scale} digits after the point (the schema's scale)`);
  let unscaled = BigInt(`${whole}${fraction.padEnd(scale, '0')}`) * (sign === '-' ? -1n : 1n);
  let length = 1;
  while (unscaled < -(1n << BigInt(length * 8 - 1)) || unscaled >= 1n << BigInt(length * 8 - 1)) length++;
  if (size !== undefined) {
    if (length > size) throw new OrderlyError('ENCODE', `${text} does not fit in ${size} bytes`);
    length = size;
  }
  if (unscaled < 0n) unscaled += 1n << BigInt(length * 8);
  const bytes = Buffer.alloc(length);
  for (let index = length - 1; index >= 0; index--) {
    bytes[index] = Number(unscaled & 0xffn);
    unscaled >>= 8n;
  }
  return bytes;
}
