/**
 * The `topic` and `tier` labels of a record's topic: a retry tier `<topic>.<group>.retry.<n>` is labelled with
 * its source topic and tier `n`, anything else is a source topic (tier `source`). The DLT `<topic>.<group>.dlt`
 * is labelled with its source topic and tier `dlt`. Mirrors `consumers/retries/topic-layout.ts`.
 */
export type TierLabel = 'source' | 'dlt' | `${number}`;

export interface TopicTier {
  /** The source topic. */
  topic: string;
  tier: TierLabel;
}

export function topicTierOf(topic: string, groupId: string): TopicTier {
  const retryInfix = `.${groupId}.retry.`;
  const at = topic.lastIndexOf(retryInfix);
  if (at > 0) {
    const tier = topic.slice(at + retryInfix.length);
    if (/^[1-9]\d*$/.test(tier)) return { topic: topic.slice(0, at), tier: tier as `${number}` };
  }
  const deadLetterSuffix = `.${groupId}.dlt`;
  if (topic.endsWith(deadLetterSuffix) && topic.length > deadLetterSuffix.length) return { topic: topic.slice(0, -deadLetterSuffix.length), tier: 'dlt' };
  return { topic, tier: 'source' };
}

/** The tier a failed record goes to next: tier 1 from the source, n + 1 from tier n. */
export function nextTierOf(tier: TierLabel): `${number}` {
  return tier === 'source' || tier === 'dlt' ? '1' : `${Number(tier) + 1}`;
}
