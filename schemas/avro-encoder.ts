/**
 * Encodes values in the Confluent wire format with the id registered for their subject. The id of each
 * (subject, schema) pair is asked once and cached: registered on first use with `autoRegister: true`
 * (development), only looked up with `false` (production, where schemas are registered by CI).
 */
import type { Type } from 'avsc';
import { OrderlyError } from '../core/errors.ts';
import type { SchemaRegistryClient } from './schema-registry-client.ts';
import { SchemaRegistryError } from './schema-registry-error.ts';
import { encodeWireFormat } from './wire-format.ts';
import { forbiddenFieldsProblem } from './forbidden-field-names.ts';
import { registerCommandFor, type SubjectNaming } from './subject-name-strategy.ts';
import { hasWrittenSchemaText, writtenSchemaText } from './avro-type.ts';

export interface AvroEncoderOptions {
  registry: SchemaRegistryClient;
  /** Register a schema the subject does not have yet. @defaultValue false */
  autoRegister?: boolean;
}

export class AvroEncoder {
  readonly #registry: SchemaRegistryClient;
  readonly #autoRegister: boolean;
  readonly #ids = new Map<string, Promise<number>>();
  readonly #canonical = new WeakMap<Type, string>();

  constructor(options: AvroEncoderOptions) {
    this.#registry = options.registry;
    this.#autoRegister = options.autoRegister ?? false;
  }

  /**
   * The schema id for a subject; asks the registry once per (subject, schema), and again only after a failure.
   * `naming` (how the subject was named) lets a "not registered" error name the strategy and the command that helps.
   */
  schemaId(subject: string, type: Type, naming?: SubjectNaming): Promise<number> {
    let canonical = this.#canonical.get(type);
    if (canonical === undefined) {
      const problem = forbiddenFieldsProblem(type);
      if (problem) return Promise.reject(new OrderlyError('CONFIGURATION', `subject ${subject}: ${problem}`));
      // The schema as written, not avsc's re-serialisation: that drops logical types (see writtenSchemaText), and
      // its canonical form (no exportAttrs) drops defaults too.
      canonical = writtenSchemaText(type);
      this.#canonical.set(type, canonical);
    }
    const cacheKey = `${subject}\u0000${canonical}`;
    let id = this.#ids.get(cacheKey);
    if (!id) {
      id = this.#resolveId(subject, canonical, naming, hasWrittenSchemaText(type));
      this.#ids.set(cacheKey, id);
      id.catch(() => this.#ids.delete(cacheKey));
    }
    return id;
  }

  async encode(subject: string, type: Type, value: unknown): Promise<Buffer> {
    return this.frame(await this.schemaId(subject, type), type, value);
  }

  /** The framed value for a known schema id. */
  frame(schemaId: number, type: Type, value: unknown): Buffer {
    return encodeWireFormat(schemaId, this.encodeBody(type, value));
  }

  /** The Avro body alone; throws an `ENCODE` error naming the first invalid field. */
  encodeBody(type: Type, value: unknown): Buffer {
    try {
      return type.toBuffer(value);
    } catch (error) {
      const paths: string[] = [];
      type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(root)') });
      throw new OrderlyError('ENCODE', `the value does not match schema ${type.name ?? type.typeName}${paths.length > 0 ? `: invalid ${paths.join(', ')}` : ''}`, { cause: error });
    }
  }

  async #resolveId(subject: string, schema: string, naming: SubjectNaming | undefined, asWritten: boolean): Promise<number> {
    if (this.#autoRegister) return this.#registry.register(subject, schema);
    try {
      return await this.#registry.lookup(subject, schema);
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.notFound) {
        const how = naming
          ? `subject ${subject} (subject-name strategy '${naming.strategy}', topic ${naming.topic ?? 'any'}) has no such schema in the registry and autoRegister is false: register it under that subject first (\`${registerCommandFor(naming.strategy, naming.topic)}\`) or set autoRegister: true in development`
          : `subject ${subject} has no such schema in the registry and autoRegister is false: register it under that subject first, or set autoRegister: true in development`;
        // A Type the caller parsed lost its logical types in avsc: the text sent is not the file's.
        const typeHint = asWritten ? '' : '; the schema was given as an avsc Type, whose re-serialisation drops logicalType, precision and scale: give the schema JSON (the object or text of the .avsc file) instead';
        throw new SchemaRegistryError(
          how + typeHint,
          error.status,
          error.registryErrorCode,
          { cause: error },
        );
      }
      throw error;
    }
  }
}
