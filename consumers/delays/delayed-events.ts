/**
 * A consumer's configuration of delayed events, as the record processor asks it: where a far-from-due event
 * waits (its delay level), where a successor of a key whose head waits on a level goes, and the group's
 * cancellations. Pure apart from the store it carries.
 */
import type { CancellationStore } from './cancellation-store.ts';
import { delayLevelFor, delayLevelOfTier, delayTierOf, delayTopicOf, holdHorizonMs } from './delay-levels.ts';

export interface DelayWait {
  topic: string;
  /** The level's check interval: the record is due there this long after it is written. */
  delayMs: number;
  /** The tier number the record and its key's parking state carry. */
  tier: number;
}

export class DelayedEvents {
  readonly levelsMs: readonly number[];
  readonly cancellations: CancellationStore | undefined;
  /** Delayed records due within this are held in memory at intake; later ones go to a level. */
  readonly holdHorizonMs: number;
  private readonly groupId: string;

  constructor({ groupId, levelsMs, cancellations }: { groupId: string; levelsMs: readonly number[]; cancellations?: CancellationStore }) {
    this.groupId = groupId;
    this.levelsMs = levelsMs;
    this.cancellations = cancellations;
    this.holdHorizonMs = holdHorizonMs(levelsMs);
  }

  /** Where an event `remainingMs` from due waits; undefined when it is to be held in memory instead. */
  levelFor(sourceTopic: string, remainingMs: number): DelayWait | undefined {
    const level = delayLevelFor(remainingMs, this.levelsMs);
    return level === undefined ? undefined : this.wait(sourceTopic, level);
  }

  /** Where a successor waits behind a head on tier `headTier`, when that is a delay level this consumer has. */
  behindHead(sourceTopic: string, headTier: number): DelayWait | undefined {
    const level = delayLevelOfTier(headTier);
    if (level === undefined || this.levelsMs.length === 0) return undefined;
    // A level this consumer no longer has (fewer levels configured now): its highest.
    return this.wait(sourceTopic, Math.min(level, this.levelsMs.length));
  }

  private wait(sourceTopic: string, level: number): DelayWait {
    return { topic: delayTopicOf(sourceTopic, this.groupId, level), delayMs: this.levelsMs[level - 1]!, tier: delayTierOf(level) };
  }
}
