/**
 * The one seam between Orderly and its Kafka client (kafkajs 2.2.4). Nothing else imports kafkajs, so
 * another client can be put behind these types and measured against this one.
 */
import kafkajs from 'kafkajs';
import type { Consumer, ConsumerConfig, KafkaConfig, SASLOptions, LogEntry, ProducerConfig } from 'kafkajs';
import { z } from 'zod';
import { ConfigurationError, OrderlyError } from './errors.ts';
import { createLogger, componentLogger, type Logger } from './logger.ts';
import { registerCompressionCodecs } from './compression/register-compression-codecs.ts';
import { installRecordHeaderCodec } from './kafka-record-codec.ts';
import { installRequestQueueTimer } from './kafka-request-queue-timer.ts';
import { createStaticMemberConsumer, type StaticMembership } from './static-membership.ts';

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
export type { StaticMembership } from './static-membership.ts';

const { Kafka, logLevel, CompressionTypes, Partitioners, AssignerProtocol } = kafkajs;
// Headers travel byte for byte, whatever their names (see kafka-record-codec.ts).
installRecordHeaderCodec();
// No TimeoutNegativeWarning from kafkajs's request queue on Node 24 (see kafka-request-queue-timer.ts).
installRequestQueueTimer();
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

/**
 * The group protocol's answer that a rebalance has begun: kafkajs logs each refused heartbeat at error level
 * (one per batch in flight, dozens at every rebalance), though it is how every member learns of a rebalance and
 * the consumer rejoins. Logged at debug; the rebalance itself is logged by the consumer.
 */
const rebalanceInProgress = 'The group is rebalancing, so a rejoin is needed';

/** Routes kafkajs's own log lines into pino, as `component: 'kafkajs'`, without its payload-free extras. */
export function kafkajsLogCreator(logger: Logger) {
  const kafkaLogger = componentLogger(logger, 'kafkajs');
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const routine = (fields as { error?: unknown }).error === rebalanceInProgress && message.startsWith('Response Heartbeat');
      kafkaLogger[routine ? 'debug' : (pinoLevelOf[level] ?? 'info')](fields, message);
    };
}

/** kafkajs's own level: its debug lines when the logger is at debug or trace, else warnings and errors only. */
function kafkajsLevelOf(logger: Logger): number {
  return logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.WARN;
}

/**
 * A connect the broker refused for its credentials, said plainly: not retried (the same password fails the
 * same way), naming the user, the mechanism and the settings to check, never the password.
 */
export function explainConnectError(error: unknown, options: Pick<ValidKafkaClientOptions, 'brokers' | 'sasl'>): unknown {
  if ((error as Error | null)?.name !== 'KafkaJSSASLAuthenticationError') return error;
  const who = options.sasl ? `user "${options.sasl.username}" (${options.sasl.mechanism.toUpperCase()})` : 'the client';
  return new OrderlyError(
    'KAFKA',
    `Kafka authentication failed for ${who} at ${options.brokers.join(',')}: check the username and password ` +
      `(KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD) and that the user exists on the broker for this mechanism. Broker said: ${(error as Error).message}`,
    { cause: error, retriable: false },
  );
}

/** True when the broker says the topic does not exist (Orderly never has it auto-created), also once retries ran out. */
export function isUnknownTopicError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if ((cause as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/**
 * True when a call failed because it went to a group coordinator that is not one (NOT_COORDINATOR) or to a
 * coordinator the client no longer knows ("Broker n not found in the cached metadata"), also once retries ran out.
 */
export function isStaleCoordinatorError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { type, name } = cause as { type?: unknown; name?: unknown };
    if (type === 'NOT_COORDINATOR_FOR_GROUP' || name === 'KafkaJSBrokerNotFound') return true;
  }
  return false;
}

/**
 * True when the broker fenced a static member: another consumer joined the group with its `groupInstanceId`
 * (FENCED_INSTANCE_ID), also once retries ran out. Final for that member: joining again would fence the other.
 */
export function isFencedInstanceError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if ((cause as { type?: unknown }).type === 'FENCED_INSTANCE_ID') return true;
  }
  return false;
}

/** Errors after which a transactional producer is no longer the owner of its transactional id. */
const fencedTypes: ReadonlySet<string> = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_NOT_FOUND', 'INVALID_PRODUCER_ID_MAPPING']);

/**
 * True when a transactional producer was fenced: another producer initialised the same transactional id (a
 * newer owner of the work it stands for), or the broker expired its transaction. Also once retries ran out.
 */
export function isProducerFencedError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 6; cause = (cause as { cause?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError, depth++) {
    const { type } = cause as { type?: unknown };
    if (typeof type === 'string' && fencedTypes.has(type)) return true;
  }
  return false;
}

/**
 * A group consumer of `kafka`. With `membership` it is a static member (KIP-345, `group.instance.id`): its
 * JoinGroup, SyncGroup, Heartbeat and LeaveGroup carry the instance id, so a successor with the same id takes
 * its place and partitions without a rebalance, and it leaves the group only when `membership.leavesGroup()`
 * says so (see static-membership.ts).
 */
export function createGroupConsumer(kafka: InstanceType<typeof Kafka>, config: ConsumerConfig, membership?: StaticMembership): Consumer {
  if (!membership) return kafka.consumer(config);
  return createStaticMemberConsumer(kafka, () => kafka.consumer(config), membership);
}

/**
 * Settings of a transactional producer (one per transactional id): idempotent writes under the id's epoch, one
 * request in flight, never a topic created. kafkajs initialises the id (fencing any older producer of it and
 * ending its open transaction) on the first `transaction()`. Retries are kafkajs's 5 for a non-idempotent
 * producer: a transaction that fails is aborted and its work done again, so a send need not retry for ever.
 */
export function transactionalProducerConfig(transactionalId: string, transactionTimeoutMs: number): ProducerConfig {
  return { transactionalId, transactionTimeout: transactionTimeoutMs, idempotent: false, maxInFlightRequests: 1, allowAutoTopicCreation: false };
}

/** Makes `connect()` of every admin, producer and consumer of `kafka` fail with {@link explainConnectError}. */
function withClearConnectErrors(kafka: InstanceType<typeof Kafka>, options: ValidKafkaClientOptions): InstanceType<typeof Kafka> {
  const explained = <T extends { connect(): Promise<void> }>(client: T): T => {
    const connect = client.connect.bind(client);
    client.connect = () => connect().catch((error: unknown) => Promise.reject(explainConnectError(error, options)));
    return client;
  };
  const [admin, producer, consumer] = [kafka.admin.bind(kafka), kafka.producer.bind(kafka), kafka.consumer.bind(kafka)];
  kafka.admin = (config) => explained(admin(config));
  kafka.producer = (config) => explained(producer(config));
  kafka.consumer = (config) => explained(consumer(config));
  return kafka;
}

/**
 * Creates the Kafka client. Topics are never auto-created through it (see `allowAutoTopicCreation`). Every
 * codec a Kafka producer may write (GZIP, Snappy, LZ4, ZSTD) is registered with kafkajs first, so whatever
 * reads or writes through this client handles batches from any producer.
 */
export function createKafkaClient(options: KafkaClientOptions, logger: Logger = createLogger()) {
  const valid = validateKafkaClientOptions(options);
  registerCompressionCodecs();
  const config: KafkaConfig = {
    brokers: valid.brokers,
    clientId: valid.clientId,
    ssl: valid.tls,
    connectionTimeout: valid.connectionTimeoutMs,
    requestTimeout: valid.requestTimeoutMs,
    logLevel: kafkajsLevelOf(logger),
    logCreator: kafkajsLogCreator(logger),
  };
  if (valid.sasl) config.sasl = valid.sasl as SASLOptions;
  return withClearConnectErrors(new Kafka(config), valid);
}
