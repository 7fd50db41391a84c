/**
 * `orderly topics create | check`: the topics of a source topic and a consumer group (docs/guarantees.md,
 * "Topics"): the source, its retry tiers `<topic>.<group>.retry.<n>` and its DLT `<topic>.<group>.dlt`, all with
 * the source's partition count, and the settings a service declares for them (replication factor,
 * `min.insync.replicas`, retention, `max.message.bytes`, cleanup policy) from flags or a `topics.yaml` beside its
 * code. The DLT keeps its records forever unless told otherwise. Nothing relies on topic auto-creation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigurationError } from '../../core/errors.ts';
import { topicLayoutOf } from '../../consumers/retries/topic-layout.ts';
import { checkDeclaredTopics, createDeclaredTopics } from '../../operations/topic-declaration.ts';
import { declareTopics, parseTopicsFile, withReplicationDefaults, type TopicDeclaration, type TopicDeclarationInput } from '../../operations/topic-settings.ts';
import type { Admin } from '../../core/kafka-client.ts';
import { groupId, nonNegativeInteger, positiveInteger, topicName } from '../support/option-parsers.ts';
import { cliKafka, withAdmin } from '../support/settings.ts';
import { terminalSafeJson } from '../support/terminal-text.ts';

interface TopicsOptions {
  file?: string;
  group?: string;
  tiers?: number;
  delayLevels?: number;
  partitions?: number;
  replicationFactor?: number;
  minInsyncReplicas?: number;
  retention?: string;
  dltRetention?: string;
  maxMessageBytes?: number;
  cleanupPolicy?: TopicDeclarationInput['cleanupPolicy'];
  brokers?: string;
  json?: boolean;
}

const defaultFile = 'topics.yaml';

function declarationOptions(command: Command): Command {
  return command
    .argument('[topic]', 'the source topic (or give --file)', topicName)
    .option('--group <group>', 'the consumer group: its retry tiers and DLT (required with <topic>)', groupId)
    .option('--file <path>', `a topics file (default: ./${defaultFile} when no <topic> is given)`)
    .option('--tiers <count>', "how many retry tiers (the consumer's retryTiersMs length) (default: 4)", nonNegativeInteger('--tiers'))
    .option('--delay-levels <count>', "how many delay levels <topic>.<group>.delay.<n> for delayed events (the consumer's delayLevelsMs length) (default: 0)", nonNegativeInteger('--delay-levels'))
    .option('--partitions <count>', 'partition count of the source (needed to create it)', positiveInteger('--partitions'))
    .option('--replication-factor <n>', "copies of each partition (default: 3 on a cluster of three or more brokers, else the broker's)", positiveInteger('--replication-factor'))
    .option('--min-insync-replicas <n>', "replicas that must acknowledge an acks=all write (default: 2 on a cluster of three or more brokers, else the broker's)", positiveInteger('--min-insync-replicas'))
    .option('--retention <duration>', 'retention of the source and tiers: ms, 30s, 15m, 12h, 7d or forever')
    .option('--dlt-retention <duration>', 'retention of the DLT (default: forever)')
    .option('--max-message-bytes <bytes>', 'the largest record batch a topic accepts', positiveInteger('--max-message-bytes'))
    .option('--cleanup-policy <policy>', 'delete, compact or compact,delete')
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)');
}

/** The declarations of a command line: one from <topic> and flags, or those of a topics file. */
export function declarationsOf(topic: string | undefined, options: TopicsOptions, cwd = process.cwd()): TopicDeclaration[] {
  const settingFlags = ['replicationFactor', 'minInsyncReplicas', 'retention', 'dltRetention', 'maxMessageBytes', 'cleanupPolicy', 'partitions', 'tiers', 'delayLevels', 'group'] as const;
  if (topic === undefined) {
    const path = resolve(cwd, options.file ?? defaultFile);
    if (!existsSync(path)) {
      throw new ConfigurationError([options.file ? `no such file: ${path}` : `give a source topic and --group, or a topics file (--file): ${path} does not exist`]);
    }
    const given = settingFlags.filter((flag) => options[flag] !== undefined);
    if (given.length > 0) throw new ConfigurationError([`with a topics file the settings come from the file: drop ${given.map((flag) => `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`]);
    return parseTopicsFile(readFileSync(path, 'utf8'), path);
  }
  if (options.file) throw new ConfigurationError([`give either <topic> (${topic}) or --file, not both`]);
  if (!options.group) throw new ConfigurationError(['--group is required with <topic>: the retry tiers and the DLT belong to a consumer group']);
  const input: Record<string, unknown> = { topic, group: options.group };
  if (options.tiers !== undefined) input.tiers = options.tiers;
  if (options.delayLevels !== undefined) input.delayLevels = options.delayLevels;
  if (options.partitions !== undefined) input.partitions = options.partitions;
  if (options.replicationFactor !== undefined) input.replicationFactor = options.replicationFactor;
  if (options.minInsyncReplicas !== undefined) input.minInsyncReplicas = options.minInsyncReplicas;
  if (options.retention !== undefined) input.retention = options.retention;
  if (options.maxMessageBytes !== undefined) input.maxMessageBytes = options.maxMessageBytes;
  if (options.cleanupPolicy !== undefined) input.cleanupPolicy = options.cleanupPolicy;
  if (options.dltRetention !== undefined) input.deadLetter = { retention: options.dltRetention };
  return declareTopics([input], 'flags');
}

/** The declarations with the replication a cluster of the admin's size gets by default ({@link withReplicationDefaults}). */
async function onThisCluster(admin: Admin, declarations: TopicDeclaration[]): Promise<TopicDeclaration[]> {
  const { brokers } = await admin.describeCluster();
  return withReplicationDefaults(declarations, brokers.length);
}

export function registerTopicsCommand(program: Command): void {
  const topics = program.command('topics').description("create and check a source topic's retry tiers and dead-letter topic for a consumer group, with their settings");

  declarationOptions(
    topics
      .command('create')
      .description('create what is missing (the source with --partitions, its retry tiers and its DLT, same partition count) with the declared settings, then check; exit 1 on a difference'),
  ).action(async (topic: string | undefined, options: TopicsOptions) => {
    const given = declarationsOf(topic, options);
    await withAdmin(cliKafka(options.brokers), async (admin) => {
      const declarations = await onThisCluster(admin, given);
      const created = new Set(await createDeclaredTopics(admin, declarations));
      for (const declaration of declarations) {
        const layout = topicLayoutOf(declaration.topic, declaration.group, declaration.tiers, declaration.delayLevels);
        const names = [layout.source, ...layout.retries, layout.deadLetter, ...layout.delays];
        for (const name of names) console.log(`${created.has(name) ? 'created' : 'exists '}  ${name}`);
        const partitions = (await admin.fetchTopicMetadata({ topics: [declaration.topic] })).topics[0]!.partitions.length;
        console.log(`${names.filter((name) => created.has(name)).length} topic(s) created; the source has ${partitions} partition(s)`);
      }
      const differences = await checkDeclaredTopics(admin, declarations);
      for (const difference of differences) console.log(`PROBLEM  ${difference.message}`);
      if (differences.length > 0) process.exitCode = 1;
    });
  });

  declarationOptions(
    topics
      .command('check')
      .description('name every difference from the declaration: missing topics, partition counts, replication factor, settings; exit 1 on one'),
  )
    .option('--json', 'print one JSON document ({ ok, differences: [{ topic, setting, declared, actual, message }] })')
    .action(async (topic: string | undefined, options: TopicsOptions) => {
      const given = declarationsOf(topic, options);
      await withAdmin(cliKafka(options.brokers), async (admin) => {
        const declarations = await onThisCluster(admin, given);
        const differences = await checkDeclaredTopics(admin, declarations);
        if (differences.length > 0) process.exitCode = 1;
        if (options.json) {
          console.log(terminalSafeJson({ ok: differences.length === 0, differences }));
          return;
        }
        for (const difference of differences) console.log(`PROBLEM  ${difference.message}`);
        if (differences.length > 0) return;
        for (const declaration of declarations) {
          const layout = topicLayoutOf(declaration.topic, declaration.group, declaration.tiers, declaration.delayLevels);
          console.log(`ok  ${declaration.topic}, ${layout.retries.length} retry tier(s), ${layout.delays.length} delay level(s) and ${layout.deadLetter} exist with the same partition count and the declared settings`);
        }
      });
    });
}
