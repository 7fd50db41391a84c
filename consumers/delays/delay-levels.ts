/**
 * Delay levels: where a delayed event waits while it is far from due (docs/scheduling.md, "Delayed events").
 *
 * A level is a topic `<topic>.<group>.delay.<n>` with a fixed check interval `levelsMs[n-1]`, named by the same
 * rules as the retry tiers and with the source's partition count (a key keeps its partition number). Every record
 * written to level n carries `orderly-due-at` = write time + the level's interval, so due times rise with
 * offsets and the consumer gates a level partition exactly like a retry tier: paused until its head is due,
 * never holding what is not. At its check a record is either close enough to be held in memory until its
 * `orderly-deliver-at`, or written again to the level that fits what is left (fewer hops than one fixed
 * interval: with 10 s, 5 min and 2 h, a day is about 60 writes).
 *
 * On the parking state a key whose head waits on level n has `headTier` {@link delayTierOf}(n) (1000 + n), so
 * every tier number below 1000 is still a retry tier and the parking store needs no new field.
 */
export const delayTierBase = 1000;

/** How long before its check a level record may still be late by (a fetch, a backlog): events within the first level's interval plus this are held in memory. */
export const delayLeadMs = 5_000;

export function delayTopicOf(topic: string, groupId: string, level: number): string {
  return `${topic}.${groupId}.delay.${level}`;
}

export function delayTopicsOf(topic: string, groupId: string, levelCount: number): string[] {
  return Array.from({ length: levelCount }, (_, index) => delayTopicOf(topic, groupId, index + 1));
}

/** The tier number of delay level `level` (record tiers, parking `headTier`). */
export function delayTierOf(level: number): number {
  return delayTierBase + level;
}

/** The delay level of a tier number, or undefined for a retry tier (or the source). */
export function delayLevelOfTier(tier: number): number | undefined {
  return tier > delayTierBase ? tier - delayTierBase : undefined;
}

/** The source topic and level of a delay-level topic name, given the group's source topics. */
export function parseDelayTopic(name: string, groupId: string, sourceTopics: readonly string[]): { sourceTopic: string; level: number } | undefined {
  for (const sourceTopic of sourceTopics) {
    const prefix = `${sourceTopic}.${groupId}.delay.`;
    if (name.startsWith(prefix)) {
      const level = Number(name.slice(prefix.length));
      if (Number.isInteger(level) && level >= 1) return { sourceTopic, level };
    }
  }
  return undefined;
}

/**
 * How far ahead a delayed event is held in memory rather than sent to a level: the first level's interval plus
 * {@link delayLeadMs}, so an event sent to level 1 is checked again at least the lead before it is due.
 * Without levels every delayed event is held in memory (there is nowhere else for it to wait).
 */
export function holdHorizonMs(levelsMs: readonly number[], leadMs = delayLeadMs): number {
  return levelsMs.length === 0 ? Infinity : levelsMs[0]! + leadMs;
}

/**
 * The level an event `remainingMs` from due waits on: the highest whose interval plus the lead fits in what is
 * left, so the event is checked again before it is due; undefined when it is within the hold horizon (hold it).
 */
export function delayLevelFor(remainingMs: number, levelsMs: readonly number[], leadMs = delayLeadMs): number | undefined {
  if (remainingMs <= holdHorizonMs(levelsMs, leadMs)) return undefined;
  let level = 1;
  for (let index = 1; index < levelsMs.length; index++) if (levelsMs[index]! + leadMs <= remainingMs) level = index + 1;
  return level;
}

/**
 * Until when the consumer's intake holds a delayed record in memory, given when it may be started otherwise
 * (`readyAt`: now for a source record, its check time for a level record): its deliver-at when that is within
 * the hold horizon (so it starts at its due time, never before), else `readyAt` (the processor then sends it to
 * a level).
 */
export function holdUntil(deliverAt: number, readyAt: number, now: number, horizonMs: number): number {
  return deliverAt - now <= horizonMs ? Math.max(deliverAt, readyAt) : readyAt;
}
