import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { readFileSync } from 'node:fs';
import { ConfigurationError, OrderlyError } from '../core/errors.ts';

export type { Schema, Type } from 'avsc';

/** A schema as callers hold it: an avsc Type, a parsed schema object, or `.avsc` JSON text. */
export type AvroSchemaInput = Type | Schema | string;

const parsedByObject = new WeakMap<object, Type>();
const parsedByText = new Map<string, Type>();
/** The schema JSON each type was parsed from, compact: what the registry is sent (see {@link writtenSchemaText}). */
const writtenTextOf = new WeakMap<Type, string>();

function parsed(schema: Schema, text: string): Type {
  const type = avro.Type.forSchema(schema);
  writtenTextOf.set(type, text);
  return type;
}

/** Parses a schema once per object or text (a WeakMap keeps the cache from growing with dropped objects). */
export function avroType(schema: AvroSchemaInput): Type {
  if (schema instanceof avro.Type) return schema;
  if (typeof schema === 'string') {
    let type = parsedByText.get(schema);
    if (!type) {
      const json = JSON.parse(schema) as Schema;
      type = parsed(json, JSON.stringify(json));
      if (parsedByText.size < 1_000) parsedByText.set(schema, type);
    }
    return type;
  }
  let type = parsedByObject.get(schema as object);
  if (!type) {
    // A Type nested in the object serialises as avsc's own export (Type#toJSON): only that part is re-derived.
    type = parsed(schema, JSON.stringify(schema));
    parsedByObject.set(schema as object, type);
  }
  return type;
}

/**
 * The schema text to send the registry (register, lookup, compatibility) for a type: the JSON it was parsed from,
 * as written (compact), for a type Orderly parsed from text or a schema object. Not avsc's re-serialisation:
 * without logical-type hooks avsc parses `{"type":"long","logicalType":"timestamp-millis"}` to a plain long and
 * `type.schema()` drops `logicalType`, a decimal's `precision` and `scale`, and custom attributes, which the
 * registry keeps in its canonical form: a lookup of the stripped text misses a schema registered from the file
 * (`orderly schemas register`), and an auto-registration registers a schema other than the one written.
 * A Type built by the caller (`avro.Type.forSchema`) falls back to avsc's export with attributes, which keeps
 * defaults, docs and aliases but only the logical types avsc was given hooks for ({@link hasWrittenSchemaText}).
 */
export function writtenSchemaText(type: Type): string {
  return writtenTextOf.get(type) ?? JSON.stringify(type.schema({ exportAttrs: true }));
}

/** Whether {@link writtenSchemaText} is the schema as written (false: a Type the caller built, re-serialised by avsc). */
export function hasWrittenSchemaText(type: Type): boolean {
  return writtenTextOf.has(type);
}

/** The full name of a named type (`orderly.ledger.FundsDeposited`), which record subjects and event types use. */
export function fullNameOf(type: Type): string {
  if (!type.name) throw new OrderlyError('CONFIGURATION', `an event schema must be a named type (a record), not ${type.typeName}`);
  return type.name;
}

/** Reads and parses one `.avsc` file; a missing or invalid file throws a {@link ConfigurationError} naming its path. */
export function readSchemaFile(path: string): Type {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError([`${path}: cannot read the schema file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`]);
  }
  try {
    return parseSchemaText(text);
  } catch (error) {
    throw new ConfigurationError([`${path}: not a valid Avro schema: ${(error as Error).message}`]);
  }
}

/** Parses schema text from a registry or a file; throws the avsc error, which callers classify. */
export function parseSchemaText(text: string): Type {
  const json = JSON.parse(text) as Schema;
  return parsed(json, JSON.stringify(json));
}
