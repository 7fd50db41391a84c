/**
 * The console's changes, with the CLI's safety and its library functions: a replay is planned by
 * {@link prepareDltReplay} and checked by {@link checkReplayDestinations} exactly as `orderly dlt replay` does,
 * sent by {@link DltReplayer} through a {@link DltRateLimiter}; a purge is planned by {@link planDltPurge} and
 * done by {@link DltPurger}; a release is {@link releaseParkedKey}. Each is a dry run unless the request confirms
 * the exact count the dry run showed (a selection that changed between the look and the act is refused, nothing
 * changed), and each change is an {@link AuditRecord}. A replay runs as a job whose progress the page polls.
 */
import { createHash, randomUUID } from 'node:crypto';
import { OrderlyError } from '../core/errors.ts';
import { RedisIdempotencyStore } from '../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf } from '../consumers/retries/topic-layout.ts';
import { DltPurger, planDltPurge, type PartitionPurgePlan } from '../operations/dlt-purger.ts';
import { DltRateLimiter } from '../operations/dlt-rate-limiter.ts';
import { DltReader } from '../operations/dlt-reader.ts';
import { matchesDltFilter, type DltFilter } from '../operations/dlt-filter.ts';
import type { DltRecord } from '../operations/dlt-record.ts';
import { checkReplayDestinations, prepareDltReplay, replayedItemsOf } from '../operations/dlt-replay-preparation.ts';
import { DltReplayStore } from '../operations/dlt-replay-store.ts';
import { DltReplayer, type ReplayItem } from '../operations/dlt-replayer.ts';
import { releaseParkedKey } from '../operations/parked-key-release.ts';
import type { AuditRecord, AuditTrail } from './console-audit.ts';
import type { ConsoleSources } from './console-sources.ts';

/** A request the console refuses: 400 (bad input), 404, 409 (count not confirmed, or busy). */
export class ConsoleRequestError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ConsoleRequestError';
    this.status = status;
  }
}

export interface Actor {
  operator: string;
  address: string;
}

export interface ReplayRequest {
  group: string;
  topic: string;
  filter: DltFilter;
  /** `p<partition>@<offset>` of the records chosen; absent: every record the filter selects. */
  records?: string[];
  includeReplayed: boolean;
  /** The count the dry run showed; absent: a dry run. */
  confirm?: number;
  /** The dry run's {@link ReplayPreview.selection}; required with `confirm`. */
  selection?: string;
}

export interface PlannedItem {
  position: string;
  action: ReplayItem['action'];
  key: string | null;
  eventId: string;
  reason: string | null;
  destination: string;
}

export interface ReplayPreview {
  dltTopic: string;
  matching: number;
  /** Records a confirmed replay sends: the count to confirm. */
  selected: number;
  /** Names exactly those records: a confirmation carries it, so a selection that changed is refused. */
  selection: string;
  counts: Record<ReplayItem['action'], number>;
  items: PlannedItem[];
  warnings: string[];
  ratePerSecond: number;
}

export interface Job {
  id: string;
  action: AuditRecord['action'];
  state: 'running' | 'done' | 'failed';
  total: number;
  done: number;
  result?: string;
  audit: AuditRecord;
}

export interface PurgePreview {
  dltTopic: string;
  /** Records a confirmed purge deletes: the count to confirm. */
  selected: number;
  /** Names exactly those records (see {@link ReplayPreview.selection}). */
  selection: string;
  partitions: { partition: number; purged: number; kept: number; range: string | null; blockedBy: string | null }[];
}

export interface ReleasePreview {
  key: string;
  topic: string;
  /** Held entries a confirmed release releases: the count to confirm. */
  selected: number;
  /** Names exactly those entries (see {@link ReplayPreview.selection}). */
  selection: string;
  entries: { partition: number; held: boolean; queued: number; headTier: number; change: string }[];
}

const positionOf = (record: Pick<DltRecord, 'partition' | 'offset'>) => `p${record.partition}@${record.offset}`;

/**
 * A short digest naming a selection (records' positions and event ids, or a key's held partitions). The count
 * alone is not enough: between the dry run and the confirmation one record may have been replayed or purged and
 * another one dead-lettered, leaving the count as it was but changing what would be sent or deleted.
 */
export function selectionOf(parts: readonly string[]): string {
  return createHash('sha256').update([...parts].sort().join('\n')).digest('base64url').slice(0, 22);
}

/** A confirmation must name the count and the selection its dry run showed, as they are now. */
function requireConfirmed(confirm: { count: number; selection: string | undefined }, now: { count: number; selection: string }, what: string): void {
  if (confirm.count !== now.count) {
    throw new ConsoleRequestError(409, `the confirmation says ${confirm.count}, but ${now.count} ${what} now: nothing was changed. Look at the dry run again and confirm ${now.count}`);
  }
  if (confirm.selection === undefined) throw new ConsoleRequestError(400, 'a confirmation needs the selection its dry run showed (preview.selection): nothing was changed');
  if (confirm.selection !== now.selection) {
    throw new ConsoleRequestError(409, `the ${now.count} ${what} are not the ones the dry run showed (the dead letters or parked keys changed meanwhile): nothing was changed. Look at the dry run again`);
  }
}

export class ConsoleActions {
  private readonly sources: ConsoleSources;
  private readonly audit: AuditTrail;
  private readonly jobs = new Map<string, Job>();
  /** group + topic of the change running now: a second one at once (a double click) is refused. */
  private readonly busy = new Set<string>();

  constructor(sources: ConsoleSources, audit: AuditTrail) {
    this.sources = sources;
    this.audit = audit;
  }

  job(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Jobs still running (a console that stops waits for them). */
  running(): Job[] {
    return [...this.jobs.values()].filter((job) => job.state === 'running');
  }

  private claim(group: string, topic: string): () => void {
    const id = `${group}\u0000${topic}`;
    if (this.busy.has(id)) throw new ConsoleRequestError(409, `a replay, purge or release of ${topic} for group ${group} is running: wait for it to finish`);
    this.busy.add(id);
    return () => this.busy.delete(id);
  }

  private async readSelection(request: ReplayRequest): Promise<DltRecord[]> {
    const wanted = request.records ? new Set(request.records) : undefined;
    const dltTopic = deadLetterTopicOf(request.topic, request.group);
    const { records } = await this.sources.withAdmin((admin) =>
      new DltReader({ kafka: this.sources.kafka, admin }).readAll(dltTopic, (record) => matchesDltFilter(record, request.filter) && (!wanted || wanted.has(positionOf(record)))),
    );
    return records;
  }

  /** Plans a replay (a dry run changes nothing); with `confirm`, starts it as a job once the count matches. */
  async replay(request: ReplayRequest, actor: Actor): Promise<{ preview: ReplayPreview; job?: Job }> {
    const redis = this.sources.redis();
    const { group, topic } = request;
    const dltTopic = deadLetterTopicOf(topic, group);
    const records = await this.readSelection(request);
    const parkingStore = new RedisParkingStore({ redis, groupId: group });
    const replayStore = new DltReplayStore({ redis, groupId: group });
    const plan = await prepareDltReplay(records, { sourceTopic: topic, groupId: group, maxReplays: this.sources.options.maxReplays, includeReplayed: request.includeReplayed, parkingStore, replayStore });
    const selected = replayedItemsOf(plan);
    const warnings = await this.sources
      .withAdmin((admin) => checkReplayDestinations(admin, selected, { sourceTopic: topic, groupId: group, dltTopic, allowRepartitioned: false, allowRepartitionedHint: 'with `orderly dlt replay --allow-repartitioned`', narrowHint: '(filter by key)' }))
      .catch((error: unknown) => Promise.reject(error instanceof OrderlyError ? new ConsoleRequestError(409, error.message) : error));
    const counts = { source: 0, lane: 0, refused: 0, skipped: 0 };
    for (const item of plan) counts[item.action]++;
    const preview: ReplayPreview = {
      dltTopic,
      matching: records.length,
      selected: selected.length,
      selection: selectionOf(selected.map((item) => `${positionOf(item.record)} ${item.eventId}`)),
      counts,
      warnings,
      ratePerSecond: this.sources.options.replayRatePerSecond,
      items: plan.map((item) => ({ position: positionOf(item.record), action: item.action, key: item.record.key, eventId: item.eventId, reason: item.record.reason ?? null, destination: item.destination })),
    };
    if (request.confirm === undefined) return { preview };
    requireConfirmed({ count: request.confirm, selection: request.selection }, { count: selected.length, selection: preview.selection }, 'record(s) would be replayed');
    if (selected.length === 0) throw new ConsoleRequestError(409, 'nothing to replay: every record selected is skipped or refused');
    const release = this.claim(group, topic);
    const audit = this.audit.begin({ action: 'dlt.replay', operator: actor.operator, address: actor.address, group, topic, confirmed: request.confirm, targets: selected.map((item) => `${positionOf(item.record)} ${item.eventId}`) });
    const job: Job = { id: randomUUID(), action: 'dlt.replay', state: 'running', total: selected.length, done: 0, audit };
    this.jobs.set(job.id, job);
    const producer = this.sources.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    const replayer = new DltReplayer({
      producer,
      parkingStore,
      replayStore,
      idempotencyStore: new RedisIdempotencyStore({ redis, groupId: group }),
      sourceTopic: topic,
      groupId: group,
      limiter: new DltRateLimiter({ ratePerSecond: this.sources.options.replayRatePerSecond }),
    });
    void (async () => {
      try {
        await producer.connect();
        const result = await replayer.replay(plan, (done) => (job.done = done));
        this.end(job, 'done', `replayed ${result.toSource + result.intoLanes}: ${result.toSource} to ${topic}, ${result.intoLanes} into parked keys' lanes`);
      } catch (error) {
        this.end(job, 'failed', `replay stopped after ${job.done} of ${job.total} record(s): ${(error as Error).message}. The ones replayed are counted and skipped next time: dry-run again to replay the rest`);
      } finally {
        release();
        await producer.disconnect().catch(() => undefined);
      }
    })();
    return { preview, job };
  }

  private end(job: Job, state: 'done' | 'failed', result: string): void {
    job.state = state;
    job.result = result;
    this.audit.finish(job.audit, state, result);
  }

  /** Plans a purge of the replayed prefix of each partition; with `confirm`, deletes it once the count matches. */
  async purge(request: { group: string; topic: string; confirm?: number; selection?: string }, actor: Actor): Promise<{ preview: PurgePreview; audit?: AuditRecord }> {
    const redis = this.sources.redis();
    const { group, topic } = request;
    const dltTopic = deadLetterTopicOf(topic, group);
    const replayStore = new DltReplayStore({ redis, groupId: group });
    const { records, watermarks } = await this.sources.withAdmin((admin) => new DltReader({ kafka: this.sources.kafka, admin }).readAll(dltTopic));
    const replays = await replayStore.replaysOf(records);
    const plans = planDltPurge(records, watermarks, (record) => (replays.get(record) ?? 0) > 0);
    const preview: PurgePreview = {
      dltTopic,
      selected: plans.reduce((total, plan) => total + plan.purged.length, 0),
      selection: selectionOf(plans.flatMap((plan) => plan.purged.map((record) => `${positionOf(record)} ${record.eventId ?? ''}`))),
      partitions: plans.map((plan: PartitionPurgePlan) => ({
        partition: plan.partition,
        purged: plan.purged.length,
        kept: plan.kept,
        range: plan.purged.length === 0 ? null : `${plan.purged[0]!.offset}..${plan.purged.at(-1)!.offset}`,
        blockedBy: plan.blockedBy ? `${positionOf(plan.blockedBy)} (${plan.blockedBy.reason ?? '?'}) was not replayed, and Kafka deletes only a prefix of a partition` : null,
      })),
    };
    if (request.confirm === undefined) return { preview };
    requireConfirmed({ count: request.confirm, selection: request.selection }, { count: preview.selected, selection: preview.selection }, 'replayed record(s) would be deleted');
    if (preview.selected === 0) throw new ConsoleRequestError(409, 'nothing to purge: no partition starts with a replayed record');
    const release = this.claim(group, topic);
    const audit = this.audit.begin({ action: 'dlt.purge', operator: actor.operator, address: actor.address, group, topic, confirmed: request.confirm, targets: plans.filter((plan) => plan.purged.length > 0).map((plan) => `p${plan.partition}@${plan.purged[0]!.offset}..${plan.purged.at(-1)!.offset}`) });
    try {
      const deleted = await this.sources.withAdmin(async (admin) => {
        const purger = new DltPurger({ admin, replayStore });
        const count = await purger.purge(dltTopic, plans);
        await purger.forgetStale(dltTopic, records, watermarks);
        return count;
      });
      this.audit.finish(audit, 'done', `deleted ${deleted} replayed record(s) from ${dltTopic}; ${records.length - deleted} stay`);
    } catch (error) {
      this.audit.finish(audit, 'failed', `purge failed: ${(error as Error).message}`);
      throw error;
    } finally {
      release();
    }
    return { preview, audit };
  }

  /** Says what releasing a parked key changes; with `confirm`, releases its held entries once the count matches. */
  async release(request: { group: string; topic: string; key: string; confirm?: number; selection?: string }, actor: Actor): Promise<{ preview: ReleasePreview; audit?: AuditRecord }> {
    const { group, topic, key } = request;
    const store = new RedisParkingStore({ redis: this.sources.redis(), groupId: group });
    const entries = (await store.list(topic)).filter((entry) => entry.key === key);
    if (entries.length === 0) throw new ConsoleRequestError(404, `the key is not parked for topic ${topic} and group ${group}`);
    const preview: ReleasePreview = {
      key,
      topic,
      selected: entries.filter((entry) => entry.state.held).length,
      selection: selectionOf(entries.filter((entry) => entry.state.held).map((entry) => `p${entry.partition} ${entry.state.queue[0] ?? ''}`)),
      entries: entries.map(({ partition, state }) => ({
        partition,
        held: state.held,
        queued: state.queue.length,
        headTier: state.headTier,
        change: !state.held
          ? `parked but not held (its head is on tier ${state.headTier}): nothing to release; it resumes when its head completes`
          : state.queue.length === 0
            ? 'unpark it (nothing queued)'
            : `un-hold it (${state.queue.length} queued event(s) are handled in order)`,
      })),
    };
    if (request.confirm === undefined) return { preview };
    requireConfirmed({ count: request.confirm, selection: request.selection }, { count: preview.selected, selection: preview.selection }, 'held entry(ies) of this key would be released');
    if (preview.selected === 0) throw new ConsoleRequestError(409, 'nothing to release: the key is parked but not held');
    const done = this.claim(group, topic);
    const audit = this.audit.begin({ action: 'keys.release', operator: actor.operator, address: actor.address, group, topic, confirmed: request.confirm, targets: entries.filter((entry) => entry.state.held).map((entry) => `p${entry.partition} key ${key}`) });
    try {
      const outcomes: string[] = [];
      for (const { partition, state } of entries) {
        if (!state.held) continue;
        // One atomic change of the state as it is now: a consumer writing the key meanwhile is never overwritten.
        const released = await releaseParkedKey(store, topic, partition, key);
        outcomes.push(released.status === 'released' ? `p${partition}: released, ${released.queued === 0 ? 'unparked' : `${released.queued} queued event(s) go on in order`}` : `p${partition}: ${released.status === 'not-parked' ? 'no longer parked' : 'no longer held'}, nothing to release`);
      }
      this.audit.finish(audit, 'done', outcomes.join('; '));
    } catch (error) {
      this.audit.finish(audit, 'failed', `release failed: ${(error as Error).message}`);
      throw error;
    } finally {
      done();
    }
    return { preview, audit };
  }
}
