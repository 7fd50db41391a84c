/**
 * `orderly console`: the web console for operators (docs/console.md), until SIGTERM or SIGINT. It reads what
 * `orderly lag`, `dlt`, `keys`, `cron list` and `outbox status` read, and replays, purges and releases with
 * their safety. Bound to 127.0.0.1 unless --host says otherwise; the token is ORDERLY_CONSOLE_TOKEN, else a
 * random one printed at start (never a flag: a command line is visible to every user of the host).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { ConfigurationError } from '../../core/errors.ts';
import { kafkaClientOptionsFromEnv } from '../../core/kafka-client.ts';
import { createLogger } from '../../core/logger.ts';
import { startConsole } from '../../console/console-server.ts';
import { isLoopback } from '../../console/console-options.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { groupId, nonNegativeInteger, positiveInteger, ratePerSecond, topicName } from '../support/option-parsers.ts';
import { optionalSetting, requiredSetting } from '../support/settings.ts';

interface ConsoleFlags {
  port: number;
  host: string;
  group?: string[];
  topic?: string[];
  brokers?: string;
  redis?: string;
  registry?: string;
  database?: string;
  outboxTable: string;
  scheduleTopic: string;
  metrics?: string[];
  payloads: boolean;
  rate: number;
  maxReplays: number;
  refresh: number;
  logLevel: string;
}

const logLevels = ['silent', 'error', 'warn', 'info', 'debug'];

function collect<T>(parse: (value: string) => T) {
  return (value: string, list: T[] = []) => [...list, parse(value)];
}

function metricsUrl(value: string): string {
  if (!/^https?:\/\/[^\s]+$/.test(value)) throw new InvalidArgumentError(`--metrics "${value}" must be an http(s) URL of a consumer's /metrics`);
  return value;
}

export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('serve the web console for operators: lag, dead letters (replay, purge), parked keys (release), schedules, outbox')
    .option('--port <port>', 'the port to listen on (0 picks a free one)', nonNegativeInteger('--port'), 8088)
    .option('--host <address>', 'the address to bind; another than 127.0.0.1 exposes the console to the network', '127.0.0.1')
    .option('--group <group>', 'show this consumer group (repeat for several; default: every group the broker lists)', collect(groupId))
    .option('--topic <topic>', 'show this source topic (repeat; default: the topics each group committed offsets for)', collect(topicName))
    .option('--no-payloads', 'never show dead letters\' payloads (data with PII)')
    .option('--rate <perSecond>', 'replays per second at most, or "unlimited"', ratePerSecond, 100)
    .option('--max-replays <count>', 'refuse to replay a record already replayed this many times', positiveInteger('--max-replays'), 3)
    .option('--refresh <seconds>', 'how often the Overview and Group pages refresh', positiveInteger('--refresh'), 5)
    .option('--metrics <url>', 'a consumer\'s /metrics to read paused partitions and in-flight handlers from (repeat; token from ORDERLY_METRICS_TOKEN)', collect(metricsUrl))
    .option('--schedule-topic <topic>', 'the schedule topic of `orderly cron`', topicName, 'orderly.schedules')
    .option('--database <url>', 'the PostgreSQL database of the outbox (default: DATABASE_URL, else the local stack)')
    .option('--outbox-table <name>', 'the outbox table, name or schema.name', 'orderly_outbox')
    .option('--log-level <level>', 'JSON log lines (the audit records at info) on stderr from this level', 'info')
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .option('--redis <url>', 'Redis URL (default: REDIS_URL or the local stack)')
    .option('--registry <url>', 'schema registry URL to decode Avro payloads (default: SCHEMA_REGISTRY_URL or the local stack)')
    .action(async (flags: ConsoleFlags) => {
      if (!logLevels.includes(flags.logLevel)) throw new ConfigurationError([`--log-level ${flags.logLevel}: must be one of ${logLevels.join(', ')}`]);
      const kafka = kafkaClientOptionsFromEnv();
      kafka.brokers = requiredSetting('KAFKA_BROKERS', flags.brokers).split(',').map((broker) => broker.trim()).filter(Boolean);
      const databaseUrl = flags.database ?? process.env.DATABASE_URL ?? readSettings(defaultStackDir())?.DATABASE_URL;
      const redisUrl = optionalSetting('REDIS_URL', flags.redis);
      const registryUrl = optionalSetting('SCHEMA_REGISTRY_URL', flags.registry);
      const running = await startConsole({
        kafka,
        host: flags.host,
        port: flags.port,
        showPayloads: flags.payloads,
        replayRatePerSecond: flags.rate,
        maxReplays: flags.maxReplays,
        refreshMs: flags.refresh * 1_000,
        scheduleTopic: flags.scheduleTopic,
        outboxTable: flags.outboxTable,
        metricsUrls: flags.metrics ?? [],
        logger: createLogger({ level: flags.logLevel }, pino.destination(2)),
        ...(process.env.ORDERLY_METRICS_TOKEN ? { metricsToken: process.env.ORDERLY_METRICS_TOKEN } : {}),
        ...(flags.group ? { groups: flags.group } : {}),
        ...(flags.topic ? { topics: flags.topic } : {}),
        ...(redisUrl ? { redisUrl } : {}),
        ...(registryUrl ? { registryUrl } : {}),
        ...(databaseUrl ? { databaseUrl } : {}),
      });
      console.log(`orderly console (pid ${process.pid}) on ${running.url}/`);
      console.log(running.tokenGenerated ? `token: ${running.token}\n  log in at ${running.url}/login, or send Authorization: Bearer <token>` : 'token: the one in ORDERLY_CONSOLE_TOKEN');
      if (!isLoopback(flags.host)) console.log(`warning: bound to ${flags.host}: the console is reachable from the network (over plain HTTP)`);
      if (!redisUrl) console.log('no Redis configured (--redis, REDIS_URL): parked keys and replays are unavailable');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      setTimeout(() => process.exit(1), 40_000).unref();
      await running.stop();
      await new Promise<void>((resolve) => process.stdout.write('orderly console stopped\n', () => resolve()));
      process.exit(process.exitCode ?? 0);
    });
}
