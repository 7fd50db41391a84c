/**
 * What every replay of dead letters does before it changes anything, shared by `orderly dlt replay` and the
 * web console (`orderly console`), so both plan the same way and refuse the same things: each selected
 * record's replay count and its key's parking state are read, the replay is planned ({@link planDltReplay}),
 * and the topics and partitions it would write to are checked to exist ({@link checkReplayDestinations}).
 */
import { OrderlyError } from '../core/errors.ts';
import type { Admin } from '../core/kafka-client.ts';
import type { ParkedKey, ParkingStore } from '../consumers/retries/parking-store.ts';
import { retryTopicOf } from '../consumers/retries/topic-layout.ts';
import type { DltRecord } from './dlt-record.ts';
import type { DltReplayStore } from './dlt-replay-store.ts';
import { planDltReplay, type ReplayItem } from './dlt-replayer.ts';

export interface DltReplayPreparation {
  sourceTopic: string;
  groupId: string;
  maxReplays: number;
  includeReplayed: boolean;
  parkingStore: ParkingStore;
  replayStore: DltReplayStore;
}

/** Reads replay counts and parking states, then plans the replay of `records` (no side effects). */
export async function prepareDltReplay(records: readonly DltRecord[], options: DltReplayPreparation): Promise<ReplayItem[]> {
  const counts = await options.replayStore.replaysOf(records);
  const parked = new Map<string, ParkedKey | undefined>();
  const laneOf = (record: DltRecord) => `${record.partition}\u0000${record.key ?? ''}`;
  for (const record of records) {
    const id = laneOf(record);
    if (!parked.has(id)) parked.set(id, await options.parkingStore.get(options.sourceTopic, record.partition, record.key ?? ''));
  }
  return planDltReplay(records, {
    sourceTopic: options.sourceTopic,
    groupId: options.groupId,
    maxReplays: options.maxReplays,
    includeReplayed: options.includeReplayed,
    replaysOf: (record) => counts.get(record) ?? 0,
    parkedStateOf: (record) => parked.get(laneOf(record)),
  });
}

/** The items of a plan that would be sent (to the source, or into a parked key's lane). */
export function replayedItemsOf(plan: readonly ReplayItem[]): ReplayItem[] {
  return plan.filter((item) => item.action === 'source' || item.action === 'lane');
}

export interface ReplayDestinationCheck {
  sourceTopic: string;
  groupId: string;
  dltTopic: string;
  /** Replay even though the source's partition count differs from the DLT's (a warning is returned instead). */
  allowRepartitioned: boolean;
  /** How the caller's operator overrides the repartition refusal. @defaultValue the CLI's flag */
  allowRepartitionedHint?: string;
  /** How the caller's operator narrows a selection. @defaultValue the CLI's flag */
  narrowHint?: string;
}

/**
 * Every topic and partition the selected records would be written to exists: the source topic, and tier 1 for
 * the lanes of parked keys. Checked before anything changes (no marker forgotten, nothing produced), in a dry
 * run too, so a deleted or shrunk topic is named at once rather than after the producer's retries. Throws an
 * {@link OrderlyError} naming the problem; returns warnings (a repartitioned source allowed by the caller).
 */
export async function checkReplayDestinations(admin: Admin, selected: readonly ReplayItem[], check: ReplayDestinationCheck): Promise<string[]> {
  const { sourceTopic, dltTopic } = check;
  const tierOneTopic = retryTopicOf(sourceTopic, check.groupId, 1);
  const allowHint = check.allowRepartitionedHint ?? 'with --allow-repartitioned';
  const narrowHint = check.narrowHint ?? '(--key)';
  const needed = new Map<string, { role: string; partitions: Set<number> }>();
  const need = (topic: string, role: string, partition: number) => {
    const entry = needed.get(topic) ?? { role, partitions: new Set<number>() };
    entry.partitions.add(partition);
    needed.set(topic, entry);
  };
  for (const item of selected) {
    // A lane falls back to the source topic when its key was unparked meanwhile: a lane needs both.
    need(sourceTopic, 'source topic', item.record.partition);
    if (item.action === 'lane') need(tierOneTopic, 'tier 1 topic (the lane of a parked key)', item.record.partition);
  }
  if (needed.size === 0) return [];
  const existing = new Set(await admin.listTopics());
  for (const [topic, { role, partitions }] of needed) {
    if (!existing.has(topic)) {
      throw new OrderlyError('CONFIGURATION', `cannot replay: the ${role} ${topic} does not exist: nothing was changed. Create it with \`orderly topics create\` (or check --topic and --group)`, { context: { topic } });
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = topics[0]?.partitions.length ?? 0;
    const missing = [...partitions].filter((partition) => partition >= count).sort((a, b) => a - b);
    if (missing.length > 0) {
      throw new OrderlyError('CONFIGURATION', `cannot replay: the ${role} ${topic} has ${count} partition(s), but the records selected include partition ${missing.join(', ')}: a replay keeps each record's partition, so per-key order holds. Nothing was changed. Give the topic back its partitions, or narrow the selection ${narrowHint}`, { context: { topic } });
    }
  }
  // The DLT has the source's partition count when made by `orderly topics create`. A source that gained
  // partitions since maps a key to another partition: a record replayed to its old partition would be handled
  // apart from (and out of order with) the later events of its key.
  const sourceCount = (await admin.fetchTopicMetadata({ topics: [sourceTopic] })).topics[0]?.partitions.length ?? 0;
  const dltCount = (await admin.fetchTopicMetadata({ topics: [dltTopic] })).topics[0]?.partitions.length ?? 0;
  if (sourceCount === dltCount) return [];
  const difference = `the source topic ${sourceTopic} has ${sourceCount} partition(s) and the DLT ${dltTopic} has ${dltCount}: the source was repartitioned, so a key may now map to another partition than the one its records are replayed to, and per-key order can break`;
  if (!check.allowRepartitioned) {
    throw new OrderlyError('CONFIGURATION', `cannot replay: ${difference}. Nothing was changed. Replay anyway ${allowHint} (once the key's later events are handled), or replay by hand`, { context: { topic: sourceTopic } });
  }
  return [difference];
}

