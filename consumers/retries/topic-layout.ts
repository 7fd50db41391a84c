/**
 * The topics of one source topic and one consumer group (docs/guarantees.md, "Topics"): retry tiers
 * `<topic>.<group>.retry.<n>` (n = 1..tiers) and the DLT `<topic>.<group>.dlt`, each with the source's
 * partition count so a key keeps its partition number everywhere. Never auto-created: {@link ensureTopicLayout}
 * creates them, and {@link checkTopicLayout} says what is missing before a consumer starts.
 */
import { ConfigurationError } from '../../core/errors.ts';
import type { Admin } from '../../core/kafka-client.ts';
import { delayTopicsOf } from '../delays/delay-levels.ts';

export function retryTopicOf(topic: string, groupId: string, tier: number): string {
  return `${topic}.${groupId}.retry.${tier}`;
}

export function deadLetterTopicOf(topic: string, groupId: string): string {
  return `${topic}.${groupId}.dlt`;
}

/** The source topic and tier of a retry-tier topic name, given the groups's source topics. */
export function parseRetryTopic(name: string, groupId: string, sourceTopics: readonly string[]): { sourceTopic: string; tier: number } | undefined {
  for (const sourceTopic of sourceTopics) {
    const prefix = `${sourceTopic}.${groupId}.retry.`;
    if (name.startsWith(prefix)) {
      const tier = Number(name.slice(prefix.length));
      if (Number.isInteger(tier) && tier >= 1) return { sourceTopic, tier };
    }
  }
  return undefined;
}

export interface TopicLayout {
  source: string;
  retries: string[];
  deadLetter: string;
  /** The delay levels `<topic>.<group>.delay.<n>` (consumers/delays/delay-levels.ts); empty without delay levels. */
  delays: string[];
}

export function topicLayoutOf(topic: string, groupId: string, tierCount: number, delayLevelCount = 0): TopicLayout {
  return {
    source: topic,
    retries: Array.from({ length: tierCount }, (_, index) => retryTopicOf(topic, groupId, index + 1)),
    deadLetter: deadLetterTopicOf(topic, groupId),
    delays: delayTopicsOf(topic, groupId, delayLevelCount),
  };
}

/** kafkajs's ConfigResourceTypes.TOPIC. */
const topicResource = 2;
/** Room for the headers a forward adds (error text, origin): a record the source took fits its tier and DLT. */
export const forwardHeadroomBytes = 16 * 1024;

/** Each topic's `max.message.bytes` (the broker's default when not overridden). */
async function maxMessageBytesOf(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const described = await admin.describeConfigs({ resources: topics.map((name) => ({ type: topicResource, name, configNames: ['max.message.bytes'] })), includeSynonyms: false });
  const sizes = new Map<string, number>();
  for (const resource of described.resources) {
    const entry = resource.configEntries.find((config) => config.configName === 'max.message.bytes');
    if (entry && Number.isFinite(Number(entry.configValue))) sizes.set(resource.resourceName, Number(entry.configValue));
  }
  return sizes;
}

/**
 * Creates the retry tiers and the DLT of `topic` for `groupId` with the source's partition count (the source
 * must exist, or `partitions` must be given to create it too), and a `max.message.bytes` of the source's plus
 * room for the forward's headers, so any record the source took can be forwarded whole. Returns the topics it
 * created.
 */
export async function ensureTopicLayout(admin: Admin, options: { topic: string; groupId: string; tierCount: number; delayLevelCount?: number; partitions?: number }): Promise<string[]> {
  const layout = topicLayoutOf(options.topic, options.groupId, options.tierCount, options.delayLevelCount);
  const existing = new Set(await admin.listTopics());
  let partitions = options.partitions;
  if (existing.has(layout.source)) {
    const metadata = await admin.fetchTopicMetadata({ topics: [layout.source] });
    partitions = metadata.topics[0]!.partitions.length;
  } else if (partitions === undefined) {
    throw new ConfigurationError([`topic "${layout.source}" does not exist: create it, or give its partition count (--partitions)`]);
  }
  const wanted = [layout.source, ...layout.retries, layout.deadLetter, ...layout.delays].filter((topic) => !existing.has(topic));
  if (wanted.length > 0) {
    const sourceMax = existing.has(layout.source) ? (await maxMessageBytesOf(admin, [layout.source])).get(layout.source) : undefined;
    // Tiers and the DLT take whatever the source takes, plus our headers; the DLT keeps its records until an
    // operator replays or purges them (no time-based retention).
    const configEntries = (topic: string) => [
      ...(sourceMax !== undefined && topic !== layout.source ? [{ name: 'max.message.bytes', value: String(sourceMax + forwardHeadroomBytes) }] : []),
      ...(topic === layout.deadLetter ? [{ name: 'retention.ms', value: '-1' }] : []),
    ];
    await admin.createTopics({ topics: wanted.map((topic) => ({ topic, numPartitions: partitions, configEntries: configEntries(topic) })), waitForLeaders: true });
  }
  return wanted;
}

/**
 * Problems with the layout of each source topic: missing topics, partition counts that differ, or a tier or
 * DLT that takes smaller records than its source (a forward of a large record would then always be rejected).
 */
export async function checkTopicLayout(admin: Admin, sourceTopics: readonly string[], groupId: string, tierCount: number, delayLevelCount = 0): Promise<string[]> {
  const layouts = sourceTopics.map((topic) => topicLayoutOf(topic, groupId, tierCount, delayLevelCount));
  const existing = new Set(await admin.listTopics());
  const problems: string[] = [];
  for (const layout of layouts) {
    const all = [layout.source, ...layout.retries, layout.deadLetter, ...layout.delays];
    const missing = all.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      // The DLT apart: a consumer may start without it, never without its source or tiers.
      const create = `create them with \`orderly topics create ${layout.source} --group ${groupId} --tiers ${tierCount}${delayLevelCount > 0 ? ` --delay-levels ${delayLevelCount}` : ''}\``;
      const missingSourceOrTiers = missing.filter((topic) => topic !== layout.deadLetter);
      if (missingSourceOrTiers.length > 0) problems.push(`missing ${missingSourceOrTiers.join(', ')}: ${create}`);
      if (missing.includes(layout.deadLetter)) problems.push(`missing ${layout.deadLetter}: ${create}`);
      continue;
    }
    const metadata = await admin.fetchTopicMetadata({ topics: all });
    const counts = new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
    const sourceCount = counts.get(layout.source);
    for (const topic of all) {
      if (counts.get(topic) !== sourceCount) {
        problems.push(`${topic} has ${counts.get(topic)} partitions but ${layout.source} has ${sourceCount}: a key would change partition on the ladder`);
      }
    }
    const sizes = await maxMessageBytesOf(admin, all);
    const sourceMax = sizes.get(layout.source);
    for (const topic of all.slice(1)) {
      const size = sizes.get(topic);
      if (sourceMax !== undefined && size !== undefined && size < sourceMax) {
        problems.push(
          `${topic} has max.message.bytes ${size} but ${layout.source} has ${sourceMax}: a large record could never be forwarded whole; ` +
            `raise it with \`kafka-configs --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=${sourceMax + forwardHeadroomBytes}\``,
        );
      }
    }
  }
  return problems;
}
