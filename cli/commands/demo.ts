/**
 * `orderly demo [run] | produce | work | verify`: the accounts ledger end to end (examples/ledger, docs/demo.md).
 * Settings come from the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL, DATABASE_URL), else from
 * the local stack (`orderly stack up`). The database is `--database`, else DATABASE_URL, else the stack's
 * PostgreSQL; `--database sqlite` (or `sqlite:<file>`) runs on an embedded SQLite file instead.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { pino } from 'pino';
import { ConfigurationError } from '../../core/errors.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { startObservabilityServer, type ObservabilityServer } from '../../observability/http.ts';
import { instrumentConsumer, type InstrumentedConsumer } from '../../observability/instrument-consumer.ts';
import { OrderlyMetrics } from '../../observability/metrics.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { defaultDemoOptions, validateDemoOptions, type DemoConnections, type DemoOptions } from '../../examples/ledger/demo-options.ts';
import { runLedgerDemo } from '../../examples/ledger/demo-run.ts';
import { verifyDemo } from '../../examples/ledger/demo-verification.ts';
import { produceLedgerEvents } from '../../examples/ledger/ledger-producer.ts';
import { ledgerNamespaceOf } from '../../examples/ledger/ledger-store.ts';
import { demoShutdownTimeoutMs, startLedgerWorker } from '../../examples/ledger/ledger-worker.ts';
import { openLedgerStore } from '../../examples/ledger/open-ledger-store.ts';
import { formatVerification } from '../../examples/ledger/verification-summary.ts';
import { demoOutboxTable } from '../../examples/ledger/outbox-ledger-producer.ts';

const logLevels = ['silent', 'error', 'warn', 'info', 'debug'];

interface WorkFlags {
  member: string;
  instanceId?: string;
  inbox: string;
  metricsPort?: number;
  metricsHost: string;
  stuckPartitionMs?: number;
  logLevel: string;
}

interface WorkerObservability {
  serve(options: { port: number; host: string; token: string | undefined }): Promise<ObservabilityServer>;
  stop(): Promise<void>;
}

/** Metrics and readiness of one worker's consumer, instrumented before it starts (so its first join counts). */
function observe(consumer: InstrumentedConsumer, groupId: string, logger: Logger): WorkerObservability {
  const metrics = new OrderlyMetrics();
  const instrumentation = instrumentConsumer(consumer, { groupId, metrics });
  let server: ObservabilityServer | undefined;
  return {
    async serve({ port, host, token }) {
      server = await startObservabilityServer({ port, host, token, metrics, readiness: [instrumentation], logger });
      return server;
    },
    async stop() {
      instrumentation.detach();
      await Promise.race([server?.stop(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    },
  };
}

interface CommonFlags {
  topic: string;
  group: string;
  database?: string;
}

function numberFlag(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) throw new InvalidArgumentError(`${flag} ${value}: must be a number`);
    return parsed;
  };
}

/** The stack's addresses (environment first, then `.orderly/stack.env`) and the demo database. */
function connectionsOf(flags: CommonFlags): DemoConnections {
  const stack = readSettings(defaultStackDir()) ?? {};
  const setting = (name: 'KAFKA_BROKERS' | 'SCHEMA_REGISTRY_URL' | 'REDIS_URL' | 'DATABASE_URL') => process.env[name] || stack[name];
  const [kafkaBrokers, schemaRegistryUrl, redisUrl] = [setting('KAFKA_BROKERS'), setting('SCHEMA_REGISTRY_URL'), setting('REDIS_URL')];
  const missing = Object.entries({ KAFKA_BROKERS: kafkaBrokers, SCHEMA_REGISTRY_URL: schemaRegistryUrl, REDIS_URL: redisUrl }).filter(([, value]) => !value);
  if (missing.length > 0) {
    throw new ConfigurationError(missing.map(([name]) => `${name} is not set and the local stack has none: run \`npx orderly stack up\`, or set ${name}`));
  }
  let database = flags.database ?? setting('DATABASE_URL') ?? 'sqlite';
  if (database === 'sqlite') database = `sqlite:${join(defaultStackDir(), 'demo', `${ledgerNamespaceOf(flags.topic, flags.group)}.sqlite`)}`;
  return { kafkaBrokers: kafkaBrokers!, schemaRegistryUrl: schemaRegistryUrl!, redisUrl: redisUrl!, database };
}

function common(command: Command): Command {
  return command
    .option('--topic <name>', 'the source topic', defaultDemoOptions.topic)
    .option('--group <name>', 'the consumer group (its retry tiers and DLT are named after it)', defaultDemoOptions.group)
    .option('--database <url>', 'postgres://... or sqlite[:<file>] (default: DATABASE_URL, else the stack\'s PostgreSQL)');
}

function eventFlags(command: Command): Command {
  return command
    .option('--events <n>', 'events to publish', numberFlag('--events'), defaultDemoOptions.events)
    .option('--keys <n>', 'accounts (Kafka keys) to spread them over', numberFlag('--keys'), defaultDemoOptions.keys)
    .option('--fail-rate <share>', 'share of events whose handler fails 1 to 4 times, then succeeds', numberFlag('--fail-rate'), defaultDemoOptions.failRate)
    .option('--poison-rate <share>', 'share of events whose handler always fails (dead-lettered)', numberFlag('--poison-rate'), defaultDemoOptions.poisonRate)
    .option('--partitions <n>', 'partitions of the topic when the demo creates it', numberFlag('--partitions'), defaultDemoOptions.partitions)
    .option('--delay-ms <ms>', 'delayed events: each is due a random time from 0 to this many ms after it is published (demo verify checks none was applied early)', numberFlag('--delay-ms'), defaultDemoOptions.delayMs)
    .option('--via-outbox', 'publish through the transactional outbox (PostgreSQL): demo_published and the outbox rows commit together, relays publish', false);
}

export function registerDemoCommand(program: Command): void {
  const demo = program.command('demo').description('the accounts ledger demo: every guarantee, end to end, verified (docs/demo.md)');

  eventFlags(common(demo.command('run', { isDefault: true })))
    .description('produce, work with several worker processes and verify, with a live progress display (the default)')
    .option('--workers <n>', 'worker processes', numberFlag('--workers'), defaultDemoOptions.workers)
    .option('--chaos', 'SIGKILL a random worker (and outbox relay, with --via-outbox) every few seconds and start a new one', false)
    .option('--chaos-every-seconds <s>', 'seconds between chaos kills', numberFlag('--chaos-every-seconds'), defaultDemoOptions.chaosEverySeconds)
    .option('--stall-timeout-seconds <s>', 'give up when nothing is handled for this long', numberFlag('--stall-timeout-seconds'), defaultDemoOptions.stallTimeoutSeconds)
    .option('--inbox <mode>', 'batch (events ready together share a transaction) or per-event (one transaction each)', defaultDemoOptions.inbox)
    .action(async (flags: CommonFlags & DemoOptions) => {
      const options = validateDemoOptions(flags);
      const connections = connectionsOf(flags);
      const store = openLedgerStore(connections.database, options.topic, options.group, 2);
      // The CLI itself, as it runs: bin.ts from a checkout, bin.js from the compiled package.
      const cli = fileURLToPath(new URL(`../bin${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url));
      try {
        process.exitCode = await runLedgerDemo(connections, store, options, {
          command: process.execPath,
          // Each worker slot keeps its group instance id: a worker replaced after a kill takes the dead one's place and partitions, with no rebalance.
          args: (member, slot) => [cli, 'demo', 'work', '--topic', options.topic, '--group', options.group, '--member', member, '--instance-id', `${options.group}-worker-${slot}`, '--inbox', options.inbox],
          env: {
            ...process.env,
            KAFKA_BROKERS: connections.kafkaBrokers,
            SCHEMA_REGISTRY_URL: connections.schemaRegistryUrl,
            REDIS_URL: connections.redisUrl,
            DATABASE_URL: connections.database,
          },
        }, {
          command: process.execPath,
          args: () => [cli, 'outbox', 'relay', '--table', demoOutboxTable(options.topic, options.group)],
          env: { ...process.env, KAFKA_BROKERS: connections.kafkaBrokers, SCHEMA_REGISTRY_URL: connections.schemaRegistryUrl, DATABASE_URL: connections.database },
        });
      } finally {
        await store.close();
      }
    });

  eventFlags(common(demo.command('produce')))
    .description('create the topic, its retry tiers and DLT, and publish keyed Avro ledger events (recorded in demo_published)')
    .action(async (flags: CommonFlags & DemoOptions) => {
      const options = validateDemoOptions(flags);
      const connections = connectionsOf(flags);
      const store = openLedgerStore(connections.database, options.topic, options.group, 2);
      try {
        const result = await produceLedgerEvents(connections, store, options);
        console.log(`published ${result.published} events to ${options.topic}${options.viaOutbox ? ' through the outbox' : ''} in ${(result.durationMs / 1000).toFixed(1)} s (run ${result.runId}; ${store.description})`);
      } finally {
        await store.close();
      }
    });

  common(demo.command('work'))
    .description('one consumer-group member applying events to balances through the transactional inbox (SIGTERM stops it)')
    .option('--member <name>', 'a name for this member', `worker-${process.pid}`)
    .option('--instance-id <id>', 'static group membership (groupInstanceId): a member started again with the same id takes its place and partitions without a rebalance')
    .option('--inbox <mode>', 'batch (events ready together share a transaction) or per-event (one transaction each)', defaultDemoOptions.inbox)
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port (0 picks a free one; the address is printed)', numberFlag('--metrics-port'))
    .option('--metrics-host <address>', 'the address the metrics endpoints bind (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--stuck-partition-ms <ms>', 'report a partition whose watermark has not moved this long while records wait', numberFlag('--stuck-partition-ms'))
    .option('--log-level <level>', 'log lines (JSON) on stderr from this level: error, warn, info, debug', 'warn')
    .action(async (flags: CommonFlags & WorkFlags) => {
      const options = validateDemoOptions({ topic: flags.topic, group: flags.group, inbox: flags.inbox as DemoOptions['inbox'] });
      const connections = connectionsOf(flags);
      if (!logLevels.includes(flags.logLevel)) throw new ConfigurationError([`--log-level ${flags.logLevel}: must be one of ${logLevels.join(', ')}`]);
      const logger = createLogger({ level: flags.logLevel }, pino.destination(2));
      let observability: WorkerObservability | undefined;
      const worker = await startLedgerWorker(connections, {
        topic: options.topic,
        group: options.group,
        member: flags.member,
        ...(flags.instanceId === undefined ? {} : { groupInstanceId: flags.instanceId }),
        inbox: options.inbox,
        logger,
        ...(flags.stuckPartitionMs === undefined ? {} : { stuckPartitionMs: flags.stuckPartitionMs }),
        beforeStart: (consumer) => {
          if (flags.metricsPort !== undefined) observability = observe(consumer, options.group, logger);
        },
      });
      console.log(`${flags.member} (pid ${process.pid}) working on ${options.topic} for group ${options.group}`);
      if (observability && flags.metricsPort !== undefined) {
        // The token, when set, comes from the environment: a command line is visible to every user of the host.
        const server = await observability.serve({ port: flags.metricsPort, host: flags.metricsHost, token: process.env.ORDERLY_METRICS_TOKEN || undefined });
        console.log(`${flags.member} metrics on http://${server.address}:${server.port}/metrics (also /healthz, /readyz)`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      const stoppingAt = Date.now();
      // stop() is bounded (shutdownTimeoutMs, then it abandons what is left and does not wait for the broker);
      // this is the backstop should anything else hold on: the process ends anyway, loudly.
      const backstopMs = demoShutdownTimeoutMs + 8_000;
      setTimeout(() => {
        console.error(`${flags.member}: still stopping ${backstopMs} ms after the signal; exiting now`);
        process.exit(1);
      }, backstopMs).unref();
      await worker.stop();
      await observability?.stop();
      // A broker that does not answer keeps the Kafka client's sockets open: exit instead of waiting for them.
      await new Promise<void>((resolve) => process.stdout.write(`${flags.member} stopped after ${Date.now() - stoppingAt} ms\n`, () => resolve()));
      process.exit(process.exitCode ?? 0);
    });

  common(demo.command('verify'))
    .description('check from the database and the DLT alone that every guarantee held; exit 1 on any violation')
    .action(async (flags: CommonFlags) => {
      const options = validateDemoOptions({ topic: flags.topic, group: flags.group });
      const connections = connectionsOf(flags);
      const store = openLedgerStore(connections.database, options.topic, options.group, 4);
      try {
        const report = await verifyDemo(connections, store, options);
        for (const line of formatVerification(report, { topic: options.topic, group: options.group, database: store.description })) console.log(line);
        if (!report.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
