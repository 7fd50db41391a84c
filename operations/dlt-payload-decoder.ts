/**
 * Shows a dead-lettered value to a human: Avro through {@link AvroCodec} when a schema registry is given and
 * the value starts with the wire format's magic byte, else JSON, else UTF-8 text, else base64. It never throws:
 * a record is often in the DLT because its bytes are bad, and the tool must still show it.
 */
import { AvroCodec } from '../schemas/avro-codec.ts';
import type { SchemaSource } from '../schemas/schema-registry-client.ts';
import { magicByte, wireHeaderLength } from '../schemas/wire-format.ts';

export type DecodedPayload =
  | { format: 'empty'; value: null }
  | { format: 'avro'; schemaId: number; value: unknown }
  | { format: 'json'; value: unknown; avroError?: string }
  | { format: 'text'; value: string; avroError?: string }
  | { format: 'binary'; value: string; avroError?: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class DltPayloadDecoder {
  private readonly codec: AvroCodec | undefined;

  /** `registry`: where Avro writer schemas come from; without one, values are shown as JSON, text or bytes. */
  constructor({ registry }: { registry?: SchemaSource } = {}) {
    // One lookup per unknown id: a tool should answer fast, not wait for a lagging registry.
    this.codec = registry ? new AvroCodec({ source: registry, schemaNotFoundAttempts: 1 }) : undefined;
  }

  async decode(value: Buffer | null): Promise<DecodedPayload> {
    if (value === null || value.length === 0) return { format: 'empty', value: null };
    let avroError: string | undefined;
    if (this.codec && value.length >= wireHeaderLength && value[0] === magicByte) {
      try {
        return { format: 'avro', schemaId: value.readInt32BE(1), value: toPlain(await this.codec.decode(value)) };
      } catch (error) {
        avroError = error instanceof Error ? error.message : String(error);
      }
    }
    const extra = avroError === undefined ? {} : { avroError };
    let text: string;
    try {
      text = strictUtf8.decode(value);
    } catch {
      return { format: 'binary', value: value.toString('base64'), ...extra };
    }
    try {
      return { format: 'json', value: JSON.parse(text) as unknown, ...extra };
    } catch {
      return { format: 'text', value: text, ...extra };
    }
  }
}

/** Avro values as JSON can print them: longs and bytes as strings, no class instances. */
function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    // No prototype: a field named `__proto__` stays a plain field.
    const plain = Object.create(null) as Record<string, unknown>;
    for (const [name, field] of Object.entries(value)) plain[name] = toPlain(field);
    return plain;
  }
  return value;
}
