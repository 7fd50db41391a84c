/**
 * Makes and verifies declared topics ({@link TopicDeclaration}): `createDeclaredTopics` creates what is missing
 * of a layout (the source with its partition count, the retry tiers and the DLT with the source's) with the
 * declared settings; `checkDeclaredTopics` names every difference between the declaration and the broker:
 * a missing topic, a partition count, a replication factor, or a config value.
 */
import { ConfigurationError } from '../core/errors.ts';
import type { Admin } from '../core/kafka-client.ts';
import { checkTopicLayout, topicLayoutOf } from '../consumers/retries/topic-layout.ts';
import { formatRetention, topicConfigNames, type TopicDeclaration, type TopicSettings } from './topic-settings.ts';

/** One way the broker differs from the declaration. */
export interface TopicDifference {
  topic: string;
  /** `exists`, `partitions`, `replication.factor`, or a config name such as `retention.ms`. */
  setting: string;
  declared: string;
  actual: string;
  /** One line for an operator, naming the topic, the setting and both values. */
  message: string;
}

/** kafkajs's `ConfigResourceTypes.TOPIC`. */
const topicResource = 2;

function configEntriesOf(settings: TopicSettings): { name: string; value: string }[] {
  const entries: { name: string; value: string }[] = [];
  for (const [key, name] of Object.entries(topicConfigNames) as [keyof typeof topicConfigNames, string][]) {
    const value = settings[key];
    if (value !== undefined) entries.push({ name, value: String(value) });
  }
  return entries;
}

function shown(name: string, value: string): string {
  return name === 'retention.ms' && /^-?\d+$/.test(value) ? `${value} (${formatRetention(Number(value))})` : value;
}

/** The topics of one declaration, each with the settings it should have. */
function topicsOf(declaration: TopicDeclaration): { topic: string; settings: TopicSettings }[] {
  const layout = topicLayoutOf(declaration.topic, declaration.group, declaration.tiers, declaration.delayLevels);
  return [
    { topic: layout.source, settings: declaration.settings },
    ...layout.retries.map((topic) => ({ topic, settings: declaration.retries })),
    { topic: layout.deadLetter, settings: declaration.deadLetter },
    // Delay levels hold records the way retry tiers do: the same settings (never compacted).
    ...layout.delays.map((topic) => ({ topic, settings: declaration.retries })),
  ];
}

/** Creates what is missing of each declaration, with its settings. Returns the topics it created. */
export async function createDeclaredTopics(admin: Admin, declarations: readonly TopicDeclaration[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const created: string[] = [];
  for (const declaration of declarations) {
    let partitions = declaration.partitions;
    if (existing.has(declaration.topic)) {
      partitions = (await admin.fetchTopicMetadata({ topics: [declaration.topic] })).topics[0]!.partitions.length;
    } else if (partitions === undefined) {
      throw new ConfigurationError([`topic "${declaration.topic}" does not exist: create it, or give its partition count (--partitions, or partitions: in topics.yaml)`]);
    }
    const wanted = topicsOf(declaration).filter(({ topic }) => !existing.has(topic));
    if (wanted.length === 0) continue;
    await admin.createTopics({
      // Leaders are awaited below: kafkajs's own wait gives up with UNKNOWN_TOPIC_OR_PARTITION on a loaded broker.
      waitForLeaders: false,
      topics: wanted.map(({ topic, settings }) => ({
        topic,
        numPartitions: partitions,
        ...(settings.replicationFactor === undefined ? {} : { replicationFactor: settings.replicationFactor }),
        configEntries: configEntriesOf(settings),
      })),
    });
    await waitForLeaders(admin, wanted.map(({ topic }) => topic));
    for (const { topic } of wanted) {
      created.push(topic);
      existing.add(topic);
    }
  }
  return created;
}

/** How long {@link createDeclaredTopics} waits for the leaders of the topics it created. */
export const leaderWaitMs = 60_000;

/**
 * Waits until every partition of `topics` has a leader, polling metadata; a topic that is not yet known to the
 * broker answered is asked again. Bounded: fails after {@link leaderWaitMs} naming the topics still waiting.
 */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + leaderWaitMs;
  let waiting = topics;
  let lastError: unknown;
  while (waiting.length > 0) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: waiting });
      const led = new Set(metadata.topics.filter((topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0)).map((topic) => topic.name));
      waiting = waiting.filter((topic) => !led.has(topic));
    } catch (error) {
      lastError = error; // UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE until the metadata has spread
    }
    if (waiting.length === 0) return;
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`created ${waiting.join(', ')} but no leader was elected for every partition within ${leaderWaitMs / 1000} s${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Every difference between the declarations and the broker; empty when all match. */
export async function checkDeclaredTopics(admin: Admin, declarations: readonly TopicDeclaration[]): Promise<TopicDifference[]> {
  const differences: TopicDifference[] = [];
  const existing = new Set(await admin.listTopics());
  for (const declaration of declarations) {
    // Missing topics and partition counts: the layout's own check, with its fix in each line.
    for (const problem of await checkTopicLayout(admin, [declaration.topic], declaration.group, declaration.tiers, declaration.delayLevels)) {
      const topic = /^missing ([^,:\s]+)/.exec(problem)?.[1] ?? /^(\S+) has/.exec(problem)?.[1] ?? declaration.topic;
      differences.push({ topic, setting: problem.startsWith('missing') ? 'exists' : 'partitions', declared: '', actual: '', message: problem });
    }
    const present = topicsOf(declaration).filter(({ topic }) => existing.has(topic));
    if (present.length === 0) continue;
    if (declaration.partitions !== undefined && existing.has(declaration.topic)) {
      const actual = (await admin.fetchTopicMetadata({ topics: [declaration.topic] })).topics[0]!.partitions.length;
      if (actual !== declaration.partitions) {
        differences.push({
          topic: declaration.topic,
          setting: 'partitions',
          declared: String(declaration.partitions),
          actual: String(actual),
          message: `${declaration.topic}: partitions is ${actual}, declared ${declaration.partitions}`,
        });
      }
    }
    const metadata = await admin.fetchTopicMetadata({ topics: present.map(({ topic }) => topic) });
    const replicas = new Map(metadata.topics.map((topic) => [topic.name, Math.min(...topic.partitions.map((partition) => partition.replicas.length))]));
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map(({ topic }) => ({ type: topicResource, name: topic, configNames: Object.values(topicConfigNames) })),
    });
    const configs = new Map(described.resources.map((resource) => [resource.resourceName, new Map(resource.configEntries.map((entry) => [entry.configName, entry.configValue]))]));
    for (const { topic, settings } of present) {
      const declaredReplicas = settings.replicationFactor;
      if (declaredReplicas !== undefined && replicas.get(topic) !== declaredReplicas) {
        const actual = String(replicas.get(topic));
        differences.push({ topic, setting: 'replication.factor', declared: String(declaredReplicas), actual, message: `${topic}: replication.factor is ${actual}, declared ${declaredReplicas}` });
      }
      for (const { name, value } of configEntriesOf(settings)) {
        const actual = configs.get(topic)?.get(name) ?? '(unknown)';
        if (actual !== value) {
          differences.push({ topic, setting: name, declared: value, actual, message: `${topic}: ${name} is ${shown(name, actual)}, declared ${shown(name, value)}` });
        }
      }
    }
  }
  return differences;
}
