import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';
import type { SchemaSource } from '../../../schemas/schema-registry-client.ts';

/** An in-memory registry: ids to schemas and subjects; counts lookups; can play an outage. */
export class FakeSchemaSource implements SchemaSource {
  readonly schemas = new Map<number, { schema: string; subjects: string[] }>();
  lookups = 0;
  down = false;

  add(id: number, schema: object, subjects: string[] = []): this {
    this.schemas.set(id, { schema: JSON.stringify(schema), subjects });
    return this;
  }

  async schemaById(id: number): Promise<string> {
    this.lookups += 1;
    if (this.down) throw new SchemaRegistryError('connection refused', undefined, undefined);
    const entry = this.schemas.get(id);
    if (!entry) throw new SchemaRegistryError(`no schema ${id}`, 404, 40403);
    return entry.schema;
  }

  async subjectsOfId(id: number): Promise<string[]> {
    if (this.down) throw new SchemaRegistryError('connection refused', undefined, undefined);
    return this.schemas.get(id)?.subjects ?? [];
  }
}

/** Avro's zigzag varint of a (safe) integer. */
export function varint(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return bytes;
}

export function framed(schemaId: number, body: number[] | Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, Buffer.from(body)]);
}
