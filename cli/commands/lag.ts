/**
 * `orderly lag --group G --topic T`: the group's lag per partition of each source topic, of each of its retry
 * tiers and of its DLT (the records it holds), from committed offsets against high watermarks. A table, or
 * one JSON document with `--json`. Exit code 0, whatever the lag: this reports, it does not judge; exit 1 when
 * a source topic does not exist (named), since a typo must not read as "no lag".
 */
import type { Command } from 'commander';
import { kafkaClientOptionsFromEnv } from '../../core/kafka-client.ts';
import { LagMonitor, type LagReport } from '../../observability/lag-monitor.ts';
import { OrderlyError } from '../../core/errors.ts';
import { groupId, topicName } from '../support/option-parsers.ts';
import { requiredSetting } from '../support/settings.ts';
import { formatTable } from '../support/table.ts';
import { terminalSafeJson } from '../support/terminal-text.ts';

interface LagCommandOptions {
  group: string;
  topic: string[];
  brokers?: string;
  json?: boolean;
}

export function registerLagCommand(program: Command): void {
  program
    .command('lag')
    .description("per-partition lag of a group's source topics, retry tiers and dead-letter topic")
    .requiredOption('--group <group>', 'the consumer group', groupId)
    .requiredOption('--topic <topic>', 'a source topic (repeat for several)', (value: string, list: string[] = []) => [...list, topicName(value)])
    .option('--brokers <list>', 'bootstrap brokers, host:port,... (default: KAFKA_BROKERS or the local stack)')
    .option('--json', 'print one JSON document instead of a table')
    .action(async (options: LagCommandOptions) => {
      const kafka = kafkaClientOptionsFromEnv();
      kafka.brokers = requiredSetting('KAFKA_BROKERS', options.brokers).split(',').map((broker) => broker.trim()).filter(Boolean);
      kafka.clientId ??= 'orderly-cli';
      const monitor = new LagMonitor({ kafka, groupId: options.group, topics: options.topic, metrics: null });
      try {
        const report = await monitor.poll();
        const missing = options.topic.filter((topic) => !report.partitions.some((p) => p.tier === 'source' && p.sourceTopic === topic));
        if (missing.length > 0) {
          throw new OrderlyError('CONFIGURATION', `no such topic: ${missing.join(', ')} (the broker has no partitions for it; see \`orderly topics check <topic> --group ${options.group}\`)`);
        }
        console.log(options.json ? terminalSafeJson(lagJson(report)) : lagText(report));
      } finally {
        await monitor.stop();
      }
    });
}

function lagJson(report: LagReport) {
  return {
    group: report.groupId,
    takenAt: new Date(report.takenAtMs).toISOString(),
    members: report.members,
    groupState: report.groupState,
    partitions: report.partitions.map(({ topic, sourceTopic, tier, partition, committedOffset, logStartOffset, logEndOffset, lag }) => ({
      topic,
      sourceTopic,
      tier,
      partition,
      committedOffset,
      logStartOffset,
      logEndOffset,
      lag,
    })),
    deadLetters: report.deadLetters.map(({ topic, sourceTopic, records, oldestTimestampMs }) => ({
      topic,
      sourceTopic,
      records,
      oldestAt: oldestTimestampMs === undefined ? null : new Date(oldestTimestampMs).toISOString(),
      oldestAgeSeconds: oldestTimestampMs === undefined ? null : Math.round((report.takenAtMs - oldestTimestampMs) / 1_000),
    })),
  };
}

const tierOrder = (tier: string) => (tier === 'source' ? 0 : tier === 'dlt' ? 1e9 : Number(tier));

function lagText(report: LagReport): string {
  const partitions = [...report.partitions].sort(
    (a, b) => a.sourceTopic.localeCompare(b.sourceTopic) || tierOrder(a.tier) - tierOrder(b.tier) || a.partition - b.partition,
  );
  const rows = partitions.map((p) => [p.topic, p.tier, `${p.partition}`, p.tier === 'dlt' ? '-' : (p.committedOffset ?? 'none'), p.logEndOffset, `${p.lag}`]);
  const totals = new Map<string, number>();
  for (const p of partitions) totals.set(p.tier, (totals.get(p.tier) ?? 0) + p.lag);
  const summary = [...totals].map(([tier, lag]) => `${tier === 'dlt' ? 'dlt records' : tier === 'source' ? 'source lag' : `tier ${tier} lag`} ${lag}`).join(', ');
  const deadLetters = report.deadLetters
    .filter((dead) => dead.oldestTimestampMs !== undefined)
    .map((dead) => `${dead.topic}: ${dead.records} record(s), oldest ${Math.round((report.takenAtMs - dead.oldestTimestampMs!) / 1_000)} s old`);
  return [
    `group ${report.groupId}: ${report.members} member(s), ${report.groupState}`,
    formatTable(['TOPIC', 'TIER', 'PARTITION', 'COMMITTED', 'END', 'LAG'], rows),
    `total: ${summary || 'no partitions'}`,
    ...deadLetters,
  ].join('\n');
}
