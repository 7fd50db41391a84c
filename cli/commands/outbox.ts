/**
 * `orderly outbox relay | status | requeue`: the transactional outbox (docs/outbox.md). `relay` publishes the
 * committed rows of an outbox table until SIGTERM (bounded stop); `status` shows the depth, the oldest pending
 * row's age and the failed rows (exit 0 whatever they are: it reports); `requeue` puts failed rows back.
 * The database is `--database`, else DATABASE_URL, else the local stack's PostgreSQL.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import pg from 'pg';
import { pino } from 'pino';
import { ConfigurationError } from '../../core/errors.ts';
import { createLogger } from '../../core/logger.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { startObservabilityServer } from '../../observability/http.ts';
import { OrderlyMetrics } from '../../observability/metrics.ts';
import { defaultOutboxRelayOptions } from '../../outbox/outbox-options.ts';
import { OutboxRelay } from '../../outbox/outbox-relay.ts';
import { readOutboxStatus, requeueFailedRows } from '../../outbox/outbox-status.ts';
import { outboxTableNames } from '../../outbox/outbox-table.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { cliKafka, requiredSetting } from '../support/settings.ts';
import { terminalSafeJson } from '../support/terminal-text.ts';

const logLevels = ['silent', 'error', 'warn', 'info', 'debug'];

interface DatabaseFlags {
  database?: string;
  table: string;
}

interface RelayFlags extends DatabaseFlags {
  brokers?: string;
  registry?: string;
  concurrency: number;
  batchSize: number;
  retentionMs: number;
  metricsPort?: number;
  metricsHost: string;
  logLevel: string;
}

function integerFlag(flag: string, min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${flag} ${value}: must be a whole number >= ${min}`);
    return parsed;
  };
}

function tableFlag(value: string): string {
  try {
    return outboxTableNames(value).table;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function databaseUrl(given: string | undefined): string {
  const url = given ?? process.env.DATABASE_URL ?? readSettings(defaultStackDir())?.DATABASE_URL;
  if (!url) throw new ConfigurationError(['the outbox database is not set: pass --database postgres://..., set DATABASE_URL, or run `orderly stack up`']);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigurationError(['--database: the outbox needs PostgreSQL (a postgres:// URL)']);
  return url;
}

function withDatabase(command: Command): Command {
  return command
    .option('--database <url>', 'the PostgreSQL database of the outbox (default: DATABASE_URL, else the local stack)')
    .option('--table <name>', 'the outbox table, name or schema.name', tableFlag, defaultOutboxRelayOptions.table);
}

export function registerOutboxCommand(program: Command): void {
  const outbox = program.command('outbox').description('the transactional outbox: relay its rows to Kafka, show its depth (docs/outbox.md)');

  withDatabase(outbox.command('relay'))
    .description('publish the committed outbox rows, per key in commit order, until SIGTERM (several relays may run)')
    .option('--brokers <list>', 'bootstrap brokers, host:port,... (default: KAFKA_BROKERS or the local stack)')
    .option('--registry <url>', 'the schema registry (default: SCHEMA_REGISTRY_URL or the local stack)')
    .option('--concurrency <n>', 'claims worked on at once', integerFlag('--concurrency', 1), defaultOutboxRelayOptions.concurrency)
    .option('--batch-size <n>', 'rows read and published at once (a claim publishes up to 8 such batches)', integerFlag('--batch-size', 1), defaultOutboxRelayOptions.batchSize)
    .option('--retention-ms <ms>', 'keep sent rows this long (0 deletes them when sent)', integerFlag('--retention-ms', 0), defaultOutboxRelayOptions.retentionMs)
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port (0 picks a free one)', integerFlag('--metrics-port', 0))
    .option('--metrics-host <address>', 'the address the metrics endpoints bind', '127.0.0.1')
    .option('--log-level <level>', 'log lines (JSON) on stderr from this level: error, warn, info, debug', 'warn')
    .action(async (flags: RelayFlags) => {
      if (!logLevels.includes(flags.logLevel)) throw new ConfigurationError([`--log-level ${flags.logLevel}: must be one of ${logLevels.join(', ')}`]);
      const logger = createLogger({ level: flags.logLevel }, pino.destination(2));
      const url = databaseUrl(flags.database);
      const kafka = cliKafka(flags.brokers);
      const pool = new pg.Pool({ connectionString: url, max: flags.concurrency + 2, connectionTimeoutMillis: 10_000 });
      pool.on('error', () => undefined); // an idle connection lost: the pool replaces it
      const producer = new EventProducer({ kafka, registry: new SchemaRegistryClient({ url: requiredSetting('SCHEMA_REGISTRY_URL', flags.registry), logger }), maxInFlight: Math.max(flags.batchSize, 1_000), logger });
      const metrics = new OrderlyMetrics({ processMetrics: true });
      const relay = new OutboxRelay({ pool, producer, kafka, table: flags.table, listenConnectionString: url, concurrency: flags.concurrency, batchSize: flags.batchSize, retentionMs: flags.retentionMs, metricsRegistry: metrics.registry, logger });
      await relay.start();
      const server = flags.metricsPort === undefined ? undefined : await startObservabilityServer({ port: flags.metricsPort, host: flags.metricsHost, token: process.env.ORDERLY_METRICS_TOKEN || undefined, metrics, readiness: [relay], logger });
      console.log(`outbox relay (pid ${process.pid}) publishing ${flags.table}${server ? `; metrics on http://${server.address}:${server.port}/metrics` : ''}`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      const backstopMs = defaultOutboxRelayOptions.shutdownTimeoutMs + 10_000;
      setTimeout(() => {
        console.error(`outbox relay: still stopping ${backstopMs} ms after the signal; exiting now`);
        process.exit(1);
      }, backstopMs).unref();
      await relay.stop();
      await producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
      await server?.stop();
      await pool.end().catch(() => undefined);
      await new Promise<void>((resolve) => process.stdout.write('outbox relay stopped\n', () => resolve()));
      process.exit(process.exitCode ?? 0);
    });

  withDatabase(outbox.command('status'))
    .description('the outbox depth, the age of the oldest unsent row and the failed rows')
    .option('--json', 'print one JSON document')
    .action(async (flags: DatabaseFlags & { json?: boolean }) => {
      const pool = new pg.Pool({ connectionString: databaseUrl(flags.database), max: 2, connectionTimeoutMillis: 10_000 });
      try {
        const status = await readOutboxStatus(pool, flags.table);
        if (flags.json) {
          console.log(terminalSafeJson({ table: flags.table, ...status }));
          return;
        }
        console.log(`${flags.table}: ${status.pending} pending, oldest ${status.oldestPendingAgeSeconds.toFixed(1)} s old; ${status.failed} failed; ${status.sentKept} sent rows kept`);
        for (const failure of status.failures) console.log(`  failed: ${failure.rows} row(s) for ${failure.topic}: ${failure.reason}`);
        if (status.failed > 0) console.log('  failed rows block the later rows of their keys: fix the cause, then `orderly outbox requeue`');
      } finally {
        await pool.end();
      }
    });

  withDatabase(outbox.command('requeue'))
    .description('put failed rows back to pending (after creating their topic, say)')
    .option('--topic <name>', 'only the failed rows of this topic')
    .action(async (flags: DatabaseFlags & { topic?: string }) => {
      const pool = new pg.Pool({ connectionString: databaseUrl(flags.database), max: 1, connectionTimeoutMillis: 10_000 });
      try {
        console.log(`${await requeueFailedRows(pool, flags.table, flags.topic)} failed row(s) requeued`);
      } finally {
        await pool.end();
      }
    });
}
