/**
 * The one seam between Orderly and its Kafka client (kafkajs 2.2.4). Nothing else imports kafkajs, so
 * another client can be put behind these types and measured against this one.
 */
import kafkajs from 'kafkajs';
import type { KafkaConfig, SASLOptions, LogEntry } from 'kafkajs';
import { z } from 'zod';
import { ConfigurationError } from './errors.ts';
import { createLogger, componentLogger, type Logger } from './logger.ts';

export type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  ITopicConfig,
  Kafka,
  KafkaMessage,
  Message,
  PartitionAssigner,
  Producer,
  ProducerConfig,
  RecordMetadata,
  TopicMessages,
  Transaction,
} from 'kafkajs';

const { Kafka, logLevel, CompressionTypes, Partitioners, AssignerProtocol } = kafkajs;
export { AssignerProtocol };
/** `Partitioners.DefaultPartitioner` is murmur2, the same partition as Java's default partitioner for a key. */
export { CompressionTypes, Partitioners };

const brokerAddress = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, for example 127.0.0.1:9092');

const saslSchema = z.object({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: z.string().min(1, 'must not be empty'),
  password: z.string().min(1, 'must not be empty'),
});

const tlsSchema = z.union([
  z.boolean(),
  z.object({
    /** PEM text of the certificate authorities to trust. */
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    rejectUnauthorized: z.boolean().optional(),
  }),
]);

const kafkaClientOptionsSchema = z.object({
  brokers: z.array(brokerAddress).min(1, 'needs at least one broker (set KAFKA_BROKERS, e.g. 127.0.0.1:9092)'),
  clientId: z.string().min(1).default('orderly'),
  tls: tlsSchema.default(false),
  sasl: saslSchema.optional(),
  connectionTimeoutMs: z.number().int().positive().default(3_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
});

/** How to reach the cluster. Validated once by {@link createKafkaClient}. */
export interface KafkaClientOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: string[];
  /** @defaultValue `'orderly'` */
  clientId?: string;
  /** TLS: `true` for the system CAs, or PEM material. @defaultValue `false` */
  tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** SASL/PLAIN or SASL/SCRAM credentials. Never logged. */
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** @defaultValue 3000 ms */
  connectionTimeoutMs?: number;
  /** @defaultValue 30000 ms */
  requestTimeoutMs?: number;
}

export type ValidKafkaClientOptions = z.output<typeof kafkaClientOptionsSchema>;

/** Every violation in one {@link ConfigurationError}, each naming the option and the fix. */
export function validateKafkaClientOptions(options: KafkaClientOptions): ValidKafkaClientOptions {
  const parsed = kafkaClientOptionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(
    parsed.error.issues.map((issue) => `kafka.${issue.path.join('.') || '(root)'}: ${issue.message}`),
  );
}

/**
 * Reads the client options from the environment: `KAFKA_BROKERS` (comma separated), `KAFKA_CLIENT_ID`,
 * `KAFKA_TLS=true`, `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`.
 */
export function kafkaClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaClientOptions {
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  const options: KafkaClientOptions = { brokers };
  if (env.KAFKA_CLIENT_ID) options.clientId = env.KAFKA_CLIENT_ID;
  if (env.KAFKA_TLS === 'true') options.tls = true;
  if (env.KAFKA_SASL_MECHANISM) {
    options.sasl = {
      mechanism: env.KAFKA_SASL_MECHANISM as 'plain' | 'scram-sha-256' | 'scram-sha-512',
      username: env.KAFKA_SASL_USERNAME ?? '',
      password: env.KAFKA_SASL_PASSWORD ?? '',
    };
  }
  return options;
}

const pinoLevelOf: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs's own log lines into pino, as `component: 'kafkajs'`, without its payload-free extras. */
function kafkajsLogCreator(logger: Logger) {
  const kafkaLogger = componentLogger(logger, 'kafkajs');
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      kafkaLogger[pinoLevelOf[level] ?? 'info'](fields, message);
    };
}

/** Creates the Kafka client. Topics are never auto-created through it (see `allowAutoTopicCreation`). */
export function createKafkaClient(options: KafkaClientOptions, logger: Logger = createLogger()) {
  const valid = validateKafkaClientOptions(options);
  const config: KafkaConfig = {
    brokers: valid.brokers,
    clientId: valid.clientId,
    ssl: valid.tls,
    connectionTimeout: valid.connectionTimeoutMs,
    requestTimeout: valid.requestTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(logger),
  };
  if (valid.sasl) config.sasl = valid.sasl as SASLOptions;
  return new Kafka(config);
}
