/**
 * `orderly topics create | check`: the topics of one source topic and one consumer group (DESIGN.md,
 * "Topics"): the source, its retry tiers `<topic>.<group>.retry.<n>` and its DLT `<topic>.<group>.dlt`, all with
 * the source's partition count. Nothing relies on topic auto-creation.
 */
import type { Command } from 'commander';
import { checkTopicLayout, ensureTopicLayout, topicLayoutOf } from '../../consumers/retries/topic-layout.ts';
import { groupId, nonNegativeInteger, positiveInteger, topicName } from '../support/option-parsers.ts';
import { cliKafka, withAdmin } from '../support/settings.ts';

interface LayoutOptions {
  group: string;
  tiers: number;
  brokers?: string;
}

export function registerTopicsCommand(program: Command): void {
  const topics = program.command('topics').description("create and check a source topic's retry tiers and dead-letter topic for a consumer group");

  topics
    .command('create')
    .description('create what is missing of the layout: the source (with --partitions), its retry tiers and its DLT, with the same partition count')
    .argument('<topic>', 'the source topic', topicName)
    .requiredOption('--group <group>', 'the consumer group (tiers and the DLT belong to it)', groupId)
    .option('--partitions <count>', 'partition count, to create the source topic when it does not exist', positiveInteger('--partitions'))
    .option('--tiers <count>', 'how many retry tiers (the consumer\'s retryTiersMs length)', nonNegativeInteger('--tiers'), 4)
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .action(async (topic: string, options: LayoutOptions & { partitions?: number }) => {
      await withAdmin(cliKafka(options.brokers), async (admin) => {
        const created = await ensureTopicLayout(admin, { topic, groupId: options.group, tierCount: options.tiers, partitions: options.partitions });
        const layout = topicLayoutOf(topic, options.group, options.tiers);
        const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
        for (const name of [layout.source, ...layout.retries, layout.deadLetter]) {
          console.log(`${created.includes(name) ? 'created' : 'exists '}  ${name}`);
        }
        console.log(`${created.length} topic(s) created; the source has ${partitions} partition(s)`);
        const problems = await checkTopicLayout(admin, [topic], options.group, options.tiers);
        for (const problem of problems) console.log(`PROBLEM  ${problem}`);
        if (problems.length > 0) process.exitCode = 1;
      });
    });

  topics
    .command('check')
    .description('report missing topics and partition counts that differ from the source; exit 1 on a problem')
    .argument('<topic>', 'the source topic', topicName)
    .requiredOption('--group <group>', 'the consumer group', groupId)
    .option('--tiers <count>', 'how many retry tiers to expect', nonNegativeInteger('--tiers'), 4)
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .action(async (topic: string, options: LayoutOptions) => {
      await withAdmin(cliKafka(options.brokers), async (admin) => {
        const problems = await checkTopicLayout(admin, [topic], options.group, options.tiers);
        for (const problem of problems) console.log(`PROBLEM  ${problem}`);
        if (problems.length > 0) {
          process.exitCode = 1;
          return;
        }
        const layout = topicLayoutOf(topic, options.group, options.tiers);
        console.log(`ok  ${topic}, ${layout.retries.length} retry tier(s) and ${layout.deadLetter} exist with the same partition count`);
      });
    });
}
