/**
 * The codec shared by producers and consumers: Confluent wire format, the writer schema fetched by id from
 * the registry, resolved into the reader's schema (so v1 data reads as v2 and v2 data as v1). Decoding is
 * hardened: every bad input gives a {@link DecodeError} with a reason; a registry outage gives a retriable
 * {@link SchemaRegistryError}, never a decode error.
 */
import type { Type } from 'avsc';
import { DecodeError } from './decode-error.ts';
import type { DecodeContext, ValueDecoder } from './value-decoder.ts';
import { parseWireFormat } from './wire-format.ts';
import { scanAvroValue } from './avro-value-scanner.ts';
import { SchemaRegistryError } from './schema-registry-error.ts';
import { avroType, parseSchemaText } from './avro-type.ts';
import { forbiddenFieldsProblem } from './forbidden-field-names.ts';
import { subjectName } from './subject-name-strategy.ts';
import { ConfigurationError } from '../core/errors.ts';
import { validateAvroCodecOptions, type AvroCodecOptions, type ValidAvroCodecOptions } from './avro-codec-options.ts';

interface WriterSchema {
  type: Type;
  /** Resolvers into each reader type, by reader name. */
  resolvers: Map<string, unknown>;
  subjects?: Promise<string[]>;
  /** Set when the schema itself is refused (a `__proto__` field): every record written with it is. */
  refusal?: DecodeError;
}

export class AvroCodec<T = unknown> implements ValueDecoder<T> {
  readonly #options: ValidAvroCodecOptions;
  readonly #readers = new Map<string, Type>();
  readonly #writers = new Map<number, Promise<WriterSchema>>();

  constructor(options: AvroCodecOptions) {
    this.#options = validateAvroCodecOptions(options);
    for (const schema of this.#options.readerSchemas) {
      const type = avroType(schema);
      const problem = forbiddenFieldsProblem(type);
      if (problem) throw new ConfigurationError([`avroCodec.readerSchemas: ${type.name ?? type.typeName}: ${problem}`]);
      for (const name of [type.name, ...type.aliases ?? []]) if (name) this.#readers.set(name, type);
    }
  }

  /**
   * Checks the registry URL at start (`SchemaRegistryClient.verify`): a URL that does not serve the registry
   * API throws. A registry that is down does not: the source has logged it and reports not ready, and records
   * wait for it as they would mid-run. A fake source without `verify` passes.
   */
  async verify(): Promise<void> {
    try {
      await this.#options.source.verify?.();
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.retriable && !error.misrouted) return;
      throw error;
    }
  }

  async decode(value: Buffer | null, context?: DecodeContext): Promise<T> {
    const { schemaId, body } = parseWireFormat(value);
    const writer = await this.#writer(schemaId);
    if (writer.refusal) throw writer.refusal;
    if (this.#options.expectedSubjects.length > 0) await this.#checkSubject(schemaId, writer, this.#options.expectedSubjects);
    const strategy = this.#options.subjectNameStrategy;
    if (strategy && context) {
      await this.#checkSubject(schemaId, writer, [subjectName(strategy, context.topic, writer.type.name ?? writer.type.typeName)], `subject-name strategy '${strategy}'`);
    }
    const reader = this.#readerFor(writer.type);
    scanAvroValue(writer.type, body, this.#options.limits);
    try {
      if (reader === writer.type) return reader.fromBuffer(body) as T;
      return reader.fromBuffer(body, this.#resolver(writer, reader) as never) as T;
    } catch (error) {
      if (error instanceof DecodeError) throw error;
      throw new DecodeError('invalid-data', `schema ${schemaId}: ${(error as Error).message}`, { cause: error });
    }
  }

  #readerFor(writerType: Type): Type {
    if (this.#readers.size === 0) return writerType;
    const reader = writerType.name ? this.#readers.get(writerType.name) : undefined;
    if (!reader) {
      throw new DecodeError('invalid-data', `no reader schema for the writer's type ${writerType.name ?? writerType.typeName} (readerSchemas has ${[...this.#readers.keys()].join(', ')})`);
    }
    return reader;
  }

  #resolver(writer: WriterSchema, reader: Type): unknown {
    const key = reader.name ?? '';
    let resolver = writer.resolvers.get(key);
    if (resolver === undefined) {
      try {
        resolver = reader.createResolver(writer.type);
      } catch (error) {
        throw new DecodeError('invalid-data', `the reader schema ${key} cannot read data written with ${writer.type.name}: ${(error as Error).message}`, { cause: error });
      }
      writer.resolvers.set(key, resolver);
    }
    return resolver;
  }

  async #checkSubject(schemaId: number, writer: WriterSchema, expected: readonly string[], why = 'expectedSubjects'): Promise<void> {
    writer.subjects ??= this.#options.source.subjectsOfId(schemaId).catch((error: unknown) => {
      writer.subjects = undefined;
      throw error;
    });
    const subjects = await writer.subjects;
    if (!subjects.some((subject) => expected.includes(subject))) {
      throw new DecodeError('subject-mismatch', `schema id ${schemaId} belongs to ${subjects.join(', ') || 'no subject'}, not to ${expected.join(', ')} (${why})`);
    }
  }

  #writer(schemaId: number): Promise<WriterSchema> {
    let writer = this.#writers.get(schemaId);
    if (!writer) {
      writer = this.#fetchWriter(schemaId);
      this.#writers.set(schemaId, writer);
      // Only found schemas stay cached: an unknown id or an outage is asked again next time.
      writer.catch(() => this.#writers.delete(schemaId));
    }
    return writer;
  }

  async #fetchWriter(schemaId: number): Promise<WriterSchema> {
    const { schemaNotFoundAttempts, schemaNotFoundBackoffMs, source } = this.#options;
    let text: string | undefined;
    for (let attempt = 1; text === undefined; attempt += 1) {
      try {
        text = await source.schemaById(schemaId);
      } catch (error) {
        if (!(error instanceof SchemaRegistryError && error.notFound)) throw error;
        if (attempt >= schemaNotFoundAttempts) {
          throw new DecodeError('schema-not-found', `schema id ${schemaId} is not in the registry (asked ${attempt} times)`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, schemaNotFoundBackoffMs * 2 ** (attempt - 1)));
      }
    }
    let type: Type;
    try {
      type = parseSchemaText(text);
    } catch (error) {
      throw new DecodeError('invalid-data', `the registry's schema ${schemaId} is not a valid Avro schema: ${(error as Error).message}`, { cause: error });
    }
    const problem = forbiddenFieldsProblem(type);
    // Cached like a found schema: the refusal is the schema's, not the registry's, and will not change.
    return { type, resolvers: new Map(), ...(problem ? { refusal: new DecodeError('forbidden-field', `schema ${schemaId}: ${problem}`) } : {}) };
  }
}
