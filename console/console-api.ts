/**
 * The console's JSON: what the pages' script sends and reads, and what a script with the bearer token can use
 * (`GET /api/overview`, `/api/groups/:group`, `/api/dlt`, `/api/keys`, `/api/audit`, `/api/jobs/:id`;
 * `POST /api/dlt/replay`, `/api/dlt/purge`, `/api/keys/release`). Request bodies are validated here.
 */
import { z } from 'zod';
import { deadLetterReasons } from '../consumers/dead-letter/reason-codes.ts';
import { parseTimePoint, validateDltFilter, type DltFilter } from '../operations/dlt-filter.ts';
import { ConsoleRequestError } from './console-actions.ts';
import type { GroupDetail, GroupSummary, ShownDeadLetter } from './console-sources.ts';

export const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic or group name');

/** The filter fields as a page or script gives them (times as text: ISO, epoch ms, or `2h` ago). */
export const filterFields = z
  .object({
    key: z.string().max(10_000).optional(),
    reason: z.enum(deadLetterReasons).optional(),
    errorType: z.string().min(1).max(500).optional(),
    since: z.string().max(100).optional(),
    until: z.string().max(100).optional(),
  })
  .strict();

/** The dry run's `preview.selection`, sent back with `confirm`. */
const selection = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the selection a dry run showed').optional();

export const replayBody = z
  .object({
    group: kafkaName,
    topic: kafkaName,
    filter: filterFields.default({}),
    records: z.array(z.string().regex(/^p\d{1,6}@\d{1,20}$/, 'must be p<partition>@<offset>')).min(1).max(10_000).optional(),
    includeReplayed: z.boolean().default(false),
    confirm: z.number().int().nonnegative().optional(),
    selection,
  })
  .strict();

export const purgeBody = z.object({ group: kafkaName, topic: kafkaName, confirm: z.number().int().nonnegative().optional(), selection }).strict();

export const releaseBody = z.object({ group: kafkaName, topic: kafkaName, key: z.string().max(10_000), confirm: z.number().int().nonnegative().optional(), selection }).strict();

/** Parses a request part, or a 400 naming each problem. */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  throw new ConsoleRequestError(400, parsed.error.issues.map((issue) => `${where}${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}`).join('; '));
}

/** A time point of the filter as epoch ms, or a 400. */
function timeOf(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const parsed = parseTimePoint(text);
  if (parsed === undefined) throw new ConsoleRequestError(400, `${name} "${text}" must be an ISO date (2025-01-31T12:00:00Z), epoch milliseconds, or a time ago (30s, 15m, 2h, 7d)`);
  return parsed;
}

/** The library's filter ({@link validateDltFilter}) from the fields; a 400 naming each problem. */
export function dltFilterOf(fields: z.output<typeof filterFields>): DltFilter {
  const filter: DltFilter = {
    key: fields.key || undefined,
    reason: fields.reason || undefined,
    errorType: fields.errorType || undefined,
    since: timeOf(fields.since, 'since'),
    until: timeOf(fields.until, 'until'),
  };
  try {
    return validateDltFilter(filter);
  } catch (error) {
    throw new ConsoleRequestError(400, (error as Error).message);
  }
}

export function summaryJson(summary: GroupSummary) {
  return {
    group: summary.group,
    topics: summary.topics,
    state: summary.report?.groupState ?? null,
    members: summary.report?.members ?? null,
    takenAt: summary.report ? new Date(summary.report.takenAtMs).toISOString() : null,
    lagError: summary.lagError ?? null,
    parkedKeys: summary.parkedKeys ?? null,
    heldKeys: summary.heldKeys ?? null,
    consumers: summary.consumers ?? null,
    partitions: (summary.report?.partitions ?? []).map(({ topic, sourceTopic, tier, partition, committedOffset, logEndOffset, lag, stalledForMs, stuck }) => ({ topic, sourceTopic, tier, partition, committedOffset, logEndOffset, lag, stalledForMs, stuck })),
    deadLetters: (summary.report?.deadLetters ?? []).map(({ topic, sourceTopic, records, oldestTimestampMs }) => ({ topic, sourceTopic, records, oldestAt: oldestTimestampMs === undefined ? null : new Date(oldestTimestampMs).toISOString() })),
  };
}

export function groupJson(detail: GroupDetail) {
  const base = summaryJson(detail);
  return {
    ...base,
    partitions: base.partitions.map((p) => {
      const owner = detail.owners.get(`${p.topic}:${p.partition}`);
      return { ...p, owner: owner ? { clientId: owner.clientId, clientHost: owner.clientHost, memberId: owner.memberId } : null };
    }),
    memberList: detail.members,
  };
}

export function deadLetterJson({ record, payload, replays }: ShownDeadLetter) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    eventId: record.eventId ?? null,
    eventType: record.eventType ?? null,
    reason: record.reason ?? null,
    errorType: record.errorType ?? null,
    errorMessage: record.errorMessage ?? null,
    attempts: record.attempts ?? null,
    replayCount: record.replayCount,
    replays: replays ?? null,
    deadLetteredAt: record.timestamp > 0 ? new Date(record.timestamp).toISOString() : null,
    payload: payload ?? null,
  };
}
