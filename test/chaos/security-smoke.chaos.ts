// Invariant: over a SASL/SCRAM listener Orderly's producer and OrderedConsumer deliver every event, in per-key order; a wrong password fails fast with an error that says so; the planted Kafka, registry and Redis passwords appear in 0 log lines at trace level; no topic is ever auto-created, even on a broker that would.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createKafkaClient, type Admin, type KafkaClientOptions } from '../../core/kafka-client.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { OrderedConsumer } from '../../consumers/ordered-consumer.ts';
import { RedisIdempotencyStore } from '../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';
import { ensureTopicLayout } from '../../consumers/retries/topic-layout.ts';
import { AvroCodec } from '../../schemas/avro-codec.ts';
import { avroType } from '../../schemas/avro-type.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { chaosName, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateStack } from './support/private-stack.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface SecuritySmokeParameters {
  events: number;
  keys: number;
  partitions: number;
  /** A wrong password must be refused within this. */
  failFastMs: number;
}

export const fullSecuritySmoke: SecuritySmokeParameters = { events: 5_000, keys: 500, partitions: 6, failFastMs: 15_000 };

const eventSchema = avroType({
  type: 'record',
  name: 'SecuritySmokeEvent',
  namespace: 'orderly.chaos',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'int' },
  ],
});

/** Distinctive, so that a hit in the log is the secret and nothing else. */
const plant = (what: string) => `${what}-S3cret-${randomBytes(6).toString('hex')}`;

interface Timed {
  ms: number;
  error?: string;
  code?: string;
  retriable?: boolean;
  timedOut: boolean;
}

/** Runs `attempt` with a hard limit of 4 × `failFastMs` (a hang shows as `timedOut`, not as a stuck scenario). */
async function timed(attempt: () => Promise<unknown>, failFastMs: number): Promise<Timed> {
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), failFastMs * 4)));
  try {
    const outcome = await Promise.race([attempt().then(() => 'resolved' as const), hang]);
    return { ms: Date.now() - startedAt, timedOut: outcome === 'hang', error: outcome === 'resolved' ? '(no error: it succeeded)' : undefined };
  } catch (error) {
    const { code, retriable } = error as { code?: string; retriable?: boolean };
    return { ms: Date.now() - startedAt, timedOut: false, error: (error as Error).message, code, retriable };
  } finally {
    clearTimeout(timer);
  }
}

interface CliRun {
  command: string;
  wrong?: string;
  exitCode: number | null;
  ms: number;
  lines: number;
  secretHits: number;
  firstLine: string;
}

/** `orderly topics check`, `lag` and `keys parked`, each with the right secrets and then a wrong one. */
function cliRuns(
  stackDir: string,
  broker: string,
  username: string,
  secrets: Record<'kafka' | 'registry' | 'redis', string>,
  registryUrl: string,
  redisUrl: string,
  { topic, groupId }: { topic: string; groupId: string },
): CliRun[] {
  const env = (kafkaPassword: string, redis: string) => ({
    ...process.env,
    ORDERLY_STACK_DIR: stackDir,
    KAFKA_BROKERS: broker,
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: kafkaPassword,
    SCHEMA_REGISTRY_URL: registryUrl,
    REDIS_URL: redis,
  });
  const wrongRedis = redisUrl.replace(encodeURIComponent(secrets.redis), encodeURIComponent(`${secrets.redis}-wrong`));
  const runs: { args: string[]; wrong?: string; env: NodeJS.ProcessEnv }[] = [
    { args: ['topics', 'check', topic, '--group', groupId, '--tiers', '0'], env: env(secrets.kafka, redisUrl) },
    { args: ['topics', 'check', topic, '--group', groupId, '--tiers', '0'], wrong: 'kafka password', env: env(`${secrets.kafka}-wrong`, redisUrl) },
    { args: ['lag', '--group', groupId, '--topic', topic], env: env(secrets.kafka, redisUrl) },
    { args: ['lag', '--group', groupId, '--topic', topic], wrong: 'kafka password', env: env(`${secrets.kafka}-wrong`, redisUrl) },
    { args: ['keys', 'parked', '--group', groupId], env: env(secrets.kafka, redisUrl) },
    { args: ['keys', 'parked', '--group', groupId], wrong: 'redis password', env: env(secrets.kafka, wrongRedis) },
  ];
  return runs.map(({ args, wrong, env: runEnv }) => {
    const startedAt = Date.now();
    const result = spawnSync(process.execPath, ['cli/bin.ts', ...args], { cwd: projectRoot, env: runEnv, encoding: 'utf8', timeout: 60_000 });
    const lines = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').filter((line) => line.trim().length > 0);
    const secretHits = lines.filter((line) => Object.values(secrets).some((secret) => line.includes(secret))).length;
    return { command: args.slice(0, 2).join(' '), wrong, exitCode: result.status, ms: Date.now() - startedAt, lines: lines.length, secretHits, firstLine: lines[0] ?? '' };
  });
}

export async function securitySmokeScenario(shared: StackSettings, parameters: SecuritySmokeParameters = fullSecuritySmoke): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const secrets = { kafka: plant('kafka'), registry: plant('registry'), redis: plant('redis') };
  const username = 'orderly-smoke';
  const stack = new PrivateStack(shared, log, { kafkaUsers: [{ username, password: secrets.kafka }], autoCreateTopics: true, redisPassword: secrets.redis });
  const logFile = join(stack.dir, 'orderly-trace.log');
  const destination = pino.destination({ dest: logFile, sync: true });
  const logger: Logger = createLogger({ level: 'trace' }, destination);
  const redisClients: Redis[] = [];
  let admin: Admin | undefined;
  try {
    const settings = await stack.up();
    const saslBroker = stack.saslBroker();
    log(`private stack up in ${stack.dir}: SCRAM listener ${saslBroker}, auto.create.topics.enable=true, redis with requirepass`);
    const kafka = (password: string): KafkaClientOptions => ({ brokers: [saslBroker], clientId: 'security-smoke', sasl: { mechanism: 'scram-sha-512', username, password } });
    // The registry has no auth of its own here: the password rides in the URL, as a user would give it.
    const registryUrl = settings.SCHEMA_REGISTRY_URL!.replace('http://', `http://${username}:${secrets.registry}@`);
    const registry = new SchemaRegistryClient({ url: registryUrl });
    const redis = () => {
      const client = new Redis(settings.REDIS_URL, { maxRetriesPerRequest: 2 });
      client.on('error', (error: Error) => logger.warn({ err: { message: error.message } }, 'redis client error'));
      redisClients.push(client);
      return client;
    };

    admin = createKafkaClient(kafka(secrets.kafka), logger).admin();
    await admin.connect();
    const topic = chaosName('secure');
    const groupId = chaosName('secure-group');
    await ensureTopicLayout(admin, { topic, groupId, tierCount: 0, partitions: parameters.partitions });
    const topicsBefore = new Set(await admin.listTopics());

    // (1) Produce and consume over SCRAM-SHA-512 (the admin above, the producer and the consumer).
    const producer = new EventProducer({ kafka: createKafkaClient(kafka(secrets.kafka), logger), registry, topic, autoRegister: true, logger });
    const expected = new Map<string, number>();
    const events = Array.from({ length: parameters.events }, (_, index) => {
      const key = `key-${index % parameters.keys}`;
      const sequence = (expected.get(key) ?? 0) + 1;
      expected.set(key, sequence);
      return { key, schema: eventSchema, value: { key, sequence } };
    });
    const producedAt = Date.now();
    await producer.publishBatch(events);
    const produceMs = Date.now() - producedAt;
    log(`published ${events.length} events over SCRAM in ${produceMs} ms`);

    const seen = new Map<string, number>();
    let applied = 0;
    let orderViolations = 0;
    let duplicates = 0;
    const consumer = new OrderedConsumer<{ key: string; sequence: number }>({
      kafka: kafka(secrets.kafka),
      groupId,
      topics: [topic],
      decoder: new AvroCodec({ source: registry, expectedSubjects: [`${topic}-value`] }),
      idempotencyStore: new RedisIdempotencyStore({ redis: redis(), groupId }),
      parkingStore: new RedisParkingStore({ redis: redis(), groupId }),
      retryTiersMs: [],
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      commitIntervalMs: 200,
      shutdownTimeoutMs: 10_000,
      maxEventLoopDelayMs: 0,
      logger,
      handler: async ({ value }) => {
        const last = seen.get(value.key) ?? 0;
        if (value.sequence <= last) duplicates++;
        else if (value.sequence !== last + 1) orderViolations++;
        seen.set(value.key, Math.max(last, value.sequence));
        applied++;
      },
    });
    const consumedAt = Date.now();
    await consumer.start();
    const deadline = Date.now() + 120_000;
    while (applied < parameters.events && Date.now() < deadline) await sleep(200);
    const consumeMs = Date.now() - consumedAt;
    await sleep(1_000); // a late duplicate would land now
    await consumer.stop();
    await producer.close();
    // The group's committed offsets against the ends of the partitions, after stop() made its last commit.
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const committedOf = new Map(committed!.partitions.map(({ partition, offset }) => [partition, Number(offset)]));
    const stuckPartitions = ends.filter(({ partition, high }) => (committedOf.get(partition) ?? -1) < Number(high)).length;
    const lost = [...expected].reduce((sum, [key, last]) => sum + Math.max(0, last - (seen.get(key) ?? 0)), 0);
    log(`consumed ${applied} of ${parameters.events} over SCRAM in ${consumeMs} ms: ${lost} lost, ${duplicates} duplicates, ${orderViolations} out of order`);

    // (2) A wrong password: the producer's connect and the consumer's start must be refused fast, and say why.
    const wrong = `${secrets.kafka}-wrong`;
    const wrongProducer = new EventProducer({ kafka: createKafkaClient(kafka(wrong), logger), registry, topic, logger });
    const producerRefused = await timed(() => wrongProducer.connect(), parameters.failFastMs);
    const wrongConsumer = new OrderedConsumer({ kafka: kafka(wrong), groupId: chaosName('secure-wrong'), topics: [topic], retryTiersMs: [], logger, handler: async () => undefined });
    const consumerRefused = await timed(() => wrongConsumer.start(), parameters.failFastMs);
    await timed(() => wrongConsumer.stop(), 5_000);
    log(`wrong password: producer refused in ${producerRefused.ms} ms (${producerRefused.error}); consumer in ${consumerRefused.ms} ms (${consumerRefused.error})`);
    const clearAuthError = (refused: Timed) =>
      !refused.timedOut && refused.ms < parameters.failFastMs && /authentication failed/i.test(refused.error ?? '') && /username and password/i.test(refused.error ?? '') && refused.retriable === false && !(refused.error ?? '').includes(secrets.kafka);

    // (3) Topics that do not exist, on a broker with auto.create.topics.enable=true: refused, still absent after.
    const missingForProducer = chaosName('missing-produce');
    const missingForConsumer = chaosName('missing-consume');
    const missingProducer = new EventProducer({ kafka: createKafkaClient(kafka(secrets.kafka), logger), registry, topic: missingForProducer, autoRegister: true, logger });
    const produceMissing = await timed(() => missingProducer.publish({ key: 'k', schema: eventSchema, value: { key: 'k', sequence: 1 } }), parameters.failFastMs * 4);
    await missingProducer.close().catch(() => undefined);
    const missingConsumer = new OrderedConsumer({ kafka: kafka(secrets.kafka), groupId: chaosName('secure-missing'), topics: [missingForConsumer], retryTiersMs: [], logger, handler: async () => undefined });
    const consumeMissing = await timed(() => missingConsumer.start(), parameters.failFastMs);
    await timed(() => missingConsumer.stop(), 5_000);
    log(`missing topic: publish refused in ${produceMissing.ms} ms (${produceMissing.error}); consumer start in ${consumeMissing.ms} ms (${consumeMissing.error})`);
    await sleep(2_000); // an auto-created topic would show up by now
    const topicsAfter = await admin.listTopics();
    const autoCreated = topicsAfter.filter((name) => !topicsBefore.has(name) && !name.startsWith('__'));
    log(`topics created during the run without being asked for: ${autoCreated.length === 0 ? 'none' : autoCreated.join(', ')}`);

    // (4) The CLI, given the same secrets the way an operator would (environment and URLs), right and wrong.
    const cli = cliRuns(stack.dir, saslBroker, username, secrets, registryUrl, settings.REDIS_URL, { topic, groupId });
    for (const run of cli) log(`cli ${run.command}${run.wrong ? ` (wrong ${run.wrong})` : ''}: exit ${run.exitCode} in ${run.ms} ms, ${run.lines} output lines, ${run.secretHits} with a planted secret${run.exitCode === 0 ? '' : `: ${run.firstLine}`}`);
    const cliSecretHits = cli.reduce((sum, run) => sum + run.secretHits, 0);
    const cliAsExpected = cli.every((run) => (run.wrong ? run.exitCode !== 0 && /authentication failed|check the password/i.test(run.firstLine) : run.exitCode === 0));

    // (5) Every line Orderly logged, at every level, with the planted secrets counted.
    destination.flushSync();
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((line) => line.length > 0);
    const levels: Record<string, number> = {};
    for (const line of lines) {
      const level = pino.levels.labels[(JSON.parse(line) as { level: number }).level] ?? 'unknown';
      levels[level] = (levels[level] ?? 0) + 1;
    }
    const secretHits = Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [name, lines.filter((line) => line.includes(secret)).length]));
    const leaks = lines.filter((line) => Object.values(secrets).some((secret) => line.includes(secret)));
    const firstLeak = leaks[0] && Object.entries(secrets).reduce((line, [name, secret]) => line.replaceAll(secret, `<${name} password>`), leaks[0]);
    log(`log lines: ${lines.length} (${JSON.stringify(levels)}); lines holding a planted secret: ${JSON.stringify(secretHits)}`);

    // No commit audit runs here (no fault to audit through): commitsPastIncomplete is not measured, see details.
    const counters = { eventsLost: lost, duplicateEffects: duplicates, orderViolations, commitsPastIncomplete: 0, stuckPartitions };
    const checks = {
      deliveredOverScram: applied >= parameters.events && lost === 0,
      wrongPasswordProducerFailsFast: clearAuthError(producerRefused),
      wrongPasswordConsumerFailsFast: clearAuthError(consumerRefused),
      missingTopicPublishRefused: !produceMissing.timedOut && (produceMissing.error ?? '').includes(`${missingForProducer} does not exist`),
      missingTopicConsumerRefused: !consumeMissing.timedOut && (consumeMissing.error ?? '').includes(`missing ${missingForConsumer}:`),
      noTopicAutoCreated: autoCreated.length === 0 && !topicsAfter.includes(missingForProducer) && !topicsAfter.includes(missingForConsumer),
      secretsInLogs0: Object.values(secretHits).every((hits) => hits === 0),
      secretsInCliOutput0: cliSecretHits === 0,
      cliAsExpected,
      debugLinesCaptured: (levels.debug ?? 0) > 0,
    };
    const failedChecks = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
    return {
      scenario: 'security-smoke',
      invariant: 'SCRAM produce/consume delivers all; wrong password fails fast and clearly; 0 log lines hold a planted secret; no topic auto-created',
      events: parameters.events,
      keys: parameters.keys,
      partitions: parameters.partitions,
      faults: { wrongPasswordAttempts: 2, missingTopicAttempts: 2, plantedSecrets: Object.keys(secrets).length },
      counters,
      details: {
        checks,
        failedChecks,
        notMeasured: ['commitsPastIncomplete'],
        produceMs,
        consumeMs,
        applied,
        wrongPassword: { producer: producerRefused, consumer: consumerRefused },
        missingTopic: { publish: produceMissing, consumerStart: consumeMissing },
        autoCreated,
        logLines: lines.length,
        logLevels: levels,
        secretHits,
        cli: cli.map(({ command, wrong, exitCode, ms, lines: outputLines, secretHits: hits }) => ({ command, wrong, exitCode, ms, lines: outputLines, secretHits: hits })),
        ...(firstLeak ? { firstLeak } : {}),
      },
      durationMs: Date.now() - startedAt,
      passed: failedChecks.length === 0 && Object.values(counters).every((value) => value === 0),
    };
  } finally {
    for (const client of redisClients) client.disconnect();
    await admin?.disconnect().catch(() => undefined);
    await stack.down();
  }
}

await runAsMain(import.meta, (settings) => securitySmokeScenario(settings));
