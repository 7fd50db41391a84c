import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { readFileSync } from 'node:fs';
import { ConfigurationError, OrderlyError } from '../core/errors.ts';

export type { Schema, Type } from 'avsc';

/** A schema as callers hold it: an avsc Type, a parsed schema object, or `.avsc` JSON text. */
export type AvroSchemaInput = Type | Schema | string;

const parsedByObject = new WeakMap<object, Type>();
const parsedByText = new Map<string, Type>();

/** Parses a schema once per object or text (a WeakMap keeps the cache from growing with dropped objects). */
export function avroType(schema: AvroSchemaInput): Type {
  if (schema instanceof avro.Type) return schema;
  if (typeof schema === 'string') {
    let type = parsedByText.get(schema);
    if (!type) {
      type = avro.Type.forSchema(JSON.parse(schema) as Schema);
      if (parsedByText.size < 1_000) parsedByText.set(schema, type);
    }
    return type;
  }
  let type = parsedByObject.get(schema as object);
  if (!type) {
    type = avro.Type.forSchema(schema);
    parsedByObject.set(schema as object, type);
  }
  return type;
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
  return avro.Type.forSchema(JSON.parse(text) as Schema);
}
