import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { SchemaSource } from './schema-registry-client.ts';
import type { AvroSchemaInput } from './avro-type.ts';
import { defaultAvroDecodeLimits, type AvroDecodeLimits } from './avro-value-scanner.ts';
import { subjectNameStrategies, type SubjectNameStrategy } from './subject-name-strategy.ts';

export interface AvroCodecOptions {
  /** Where writer schemas come from by id: a {@link SchemaRegistryClient}, or a fake in tests. */
  source: SchemaSource;
  /**
   * The schemas this reader expects. A writer schema is resolved into the reader schema of the same full
   * name (or alias). Empty: values are decoded with the writer's schema as is. @defaultValue `[]`
   */
  readerSchemas?: AvroSchemaInput[];
  /** Subjects a writer schema id must be registered under (`subject-mismatch` otherwise). Empty: not checked. @defaultValue `[]` */
  expectedSubjects?: string[];
  /**
   * The producers' subject-name strategy (the same setting as the producer's `subjectNameStrategy`): a writer
   * schema id must be registered under the subject the strategy names for the record's topic and the writer's
   * record name (`subject-mismatch` otherwise, naming the strategy). Unset: not checked. @defaultValue undefined
   */
  subjectNameStrategy?: SubjectNameStrategy;
  /** Limits of the pre-scan; unset ones keep their defaults (see {@link AvroDecodeLimits}). */
  limits?: Partial<AvroDecodeLimits>;
  /** Lookups of an unknown id before `schema-not-found` (the registry may lag behind a producer). @defaultValue 3 */
  schemaNotFoundAttempts?: number;
  /** Wait before the second lookup; doubles after each. @defaultValue 200 ms */
  schemaNotFoundBackoffMs?: number;
}

export const defaultAvroCodecOptions = {
  readerSchemas: [],
  expectedSubjects: [],
  schemaNotFoundAttempts: 3,
  schemaNotFoundBackoffMs: 200,
} satisfies Partial<AvroCodecOptions>;

const positiveInteger = z.number().int().positive('must be a positive integer');

const optionsSchema = z.object({
  source: z.custom<SchemaSource>(
    (value) => typeof (value as SchemaSource | undefined)?.schemaById === 'function',
    'must be a schema source such as a SchemaRegistryClient',
  ),
  readerSchemas: z.array(z.custom<AvroSchemaInput>((value) => value !== null && value !== undefined, 'must be a schema')),
  expectedSubjects: z.array(z.string().min(1, 'must not be empty')),
  subjectNameStrategy: z.enum(subjectNameStrategies).optional(),
  limits: z.object({
    maxCollectionItems: positiveInteger,
    maxTotalItems: positiveInteger,
    maxStringBytes: positiveInteger,
    maxDepth: positiveInteger,
    forbiddenMapKeys: z.array(z.string()),
    maxDecodedBytesPerInputByte: positiveInteger,
    decodedBytesAllowance: positiveInteger,
  }),
  schemaNotFoundAttempts: positiveInteger.max(20, 'must be at most 20: each attempt waits twice as long'),
  schemaNotFoundBackoffMs: z.number().int().nonnegative('must be zero or more milliseconds'),
});

export type ValidAvroCodecOptions = z.output<typeof optionsSchema>;

export function validateAvroCodecOptions(options: AvroCodecOptions): ValidAvroCodecOptions {
  const parsed = optionsSchema.safeParse({
    ...defaultAvroCodecOptions,
    ...options,
    limits: { ...defaultAvroDecodeLimits, ...options.limits },
  });
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `avroCodec.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}
