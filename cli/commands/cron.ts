/**
 * `orderly cron init | run | list`: cron schedules with one runner (docs/scheduling.md). `init` creates the
 * schedule topic (one partition, compacted); `run` runs one instance of a schedule until SIGTERM/SIGINT (run
 * it on as many machines as you like: one of them leads and publishes one tick per slot); `list` shows every
 * schedule on the schedule topic with its last slot, next slot and leader.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { createLogger } from '../../core/logger.ts';
import { kafkaClientOptionsFromEnv } from '../../core/kafka-client.ts';
import { startObservabilityServer, type ObservabilityServer } from '../../observability/http.ts';
import { instrumentScheduler } from '../../observability/instrument-scheduler.ts';
import { OrderlyMetrics } from '../../observability/metrics.ts';
import { CronScheduler } from '../../scheduling/scheduler.ts';
import { createScheduleTopic } from '../../scheduling/schedule-topic.ts';
import { listSchedules } from '../../scheduling/schedule-status.ts';
import { nonNegativeInteger, positiveInteger, topicName } from '../support/option-parsers.ts';
import { cliKafka, requiredSetting, withAdmin } from '../support/settings.ts';
import { formatTable } from '../support/table.ts';
import { terminalSafeJson, terminalSafeLines } from '../support/terminal-text.ts';

const defaultScheduleTopic = 'orderly.schedules';

function missedPolicy(value: string): 'catch-up' | 'skip' {
  if (value !== 'catch-up' && value !== 'skip') throw new InvalidArgumentError(`--missed-slots "${value}" must be catch-up or skip`);
  return value;
}

interface RunOptions {
  name: string;
  schedule: string;
  topic: string;
  timezone: string;
  scheduleTopic: string;
  missedSlots: 'catch-up' | 'skip';
  maxCatchUp: number;
  instance?: string;
  sessionTimeout: number;
  logLevel: string;
  metricsPort?: number;
  brokers?: string;
}

export function registerCronCommand(program: Command): void {
  const cron = program.command('cron').description('cron schedules with one runner: one tick event per slot, however many instances run');

  cron
    .command('init')
    .description('create the schedule topic (one partition, cleanup.policy=compact) that elects the leader and keeps each schedule\'s last slot')
    .option('--schedule-topic <topic>', 'the schedule topic', topicName, defaultScheduleTopic)
    .option('--replication-factor <n>', 'copies of the partition', positiveInteger('--replication-factor'))
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .action(async (options: { scheduleTopic: string; replicationFactor?: number; brokers?: string }) => {
      await withAdmin(cliKafka(options.brokers), async (admin) => {
        const created = await createScheduleTopic(admin, options.scheduleTopic, options.replicationFactor);
        console.log(`${created ? 'created' : 'exists '}  ${options.scheduleTopic}`);
      });
    });

  cron
    .command('run')
    .description('run one instance of a schedule until SIGTERM or SIGINT: the leader publishes each slot\'s tick to --topic; the others stand by')
    .requiredOption('--name <name>', 'the schedule\'s name: the tick key, part of the event id')
    .requiredOption('--schedule <expression>', 'cron expression, 5 fields or 6 with seconds first ("*/10 * * * * *")')
    .requiredOption('--topic <topic>', 'the tick topic (must exist)', topicName)
    .option('--timezone <zone>', 'IANA time zone of the expression', 'UTC')
    .option('--schedule-topic <topic>', 'the schedule topic (create it with `orderly cron init`)', topicName, defaultScheduleTopic)
    .option('--missed-slots <policy>', 'slots missed while no instance led: catch-up (publish them, up to --max-catch-up) or skip (only the latest)', missedPolicy, 'catch-up')
    .option('--max-catch-up <count>', 'the most missed slots published after an outage (the newest)', positiveInteger('--max-catch-up'), 100)
    .option('--instance <id>', 'this instance\'s name in claims and `cron list` (default: host:pid)')
    .option('--session-timeout <ms>', 'how long a dead leader keeps the schedule (the broker accepts 6000 and up by default)', positiveInteger('--session-timeout'), 6_000)
    .option('--log-level <level>', 'JSON log lines on stdout at this level: debug shows each tick', 'info')
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on 127.0.0.1:<port> (0 picks a free one; the address is logged); token from ORDERLY_METRICS_TOKEN', nonNegativeInteger('--metrics-port'))
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .action(async (options: RunOptions) => {
      const logger = createLogger({ level: options.logLevel });
      const kafka = kafkaClientOptionsFromEnv();
      kafka.brokers = requiredSetting('KAFKA_BROKERS', options.brokers).split(',').map((broker) => broker.trim()).filter(Boolean);
      const scheduler = new CronScheduler({
        kafka,
        name: options.name,
        schedule: options.schedule,
        timezone: options.timezone,
        topic: options.topic,
        scheduleTopic: options.scheduleTopic,
        missedSlots: options.missedSlots,
        maxCatchUp: options.maxCatchUp,
        sessionTimeoutMs: options.sessionTimeout,
        heartbeatIntervalMs: Math.min(500, Math.floor(options.sessionTimeout / 3)),
        logger,
        ...(options.instance ? { instance: options.instance } : {}),
      });
      const metrics = new OrderlyMetrics();
      const detach = instrumentScheduler(scheduler, { metrics });
      let server: ObservabilityServer | undefined;
      if (options.metricsPort !== undefined) {
        // The token comes from the environment: a command line is visible to every user of the host.
        server = await startObservabilityServer({ port: options.metricsPort, metrics, token: process.env.ORDERLY_METRICS_TOKEN || undefined, logger });
        logger.info({ port: server.port }, 'metrics served on 127.0.0.1');
      }
      await scheduler.start();
      const signalled = new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await Promise.race([signalled, scheduler.whenStopped()]);
      await scheduler.stop();
      detach();
      await server?.stop();
      await scheduler.whenStopped();
    });

  cron
    .command('list')
    .description('every schedule on the schedule topic: last slot, next slot, leader (latest claim) and the members of its group now')
    .option('--schedule-topic <topic>', 'the schedule topic', topicName, defaultScheduleTopic)
    .option('--json', 'print one JSON document ({ schedules: [...] })')
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .action(async (options: { scheduleTopic: string; json?: boolean; brokers?: string }) => {
      const kafka = cliKafka(options.brokers);
      const schedules = await withAdmin(kafka, (admin) => listSchedules(kafka, admin, options.scheduleTopic));
      if (options.json) {
        console.log(terminalSafeJson({ schedules }));
        return;
      }
      if (schedules.length === 0) {
        console.log(`no schedule on ${options.scheduleTopic}`);
        return;
      }
      console.log(
        terminalSafeLines(formatTable(
          ['SCHEDULE', 'EXPRESSION', 'TIMEZONE', 'TOPIC', 'LAST SLOT', 'NEXT SLOT', 'LEADER', 'MEMBERS'],
          schedules.map((entry) => [entry.schedule, entry.expression, entry.timezone, entry.topic, entry.lastSlot ?? '-', entry.nextSlot ?? '-', entry.leader ?? '-', String(entry.members)]),
        )),
      );
    });
}
