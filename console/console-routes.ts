/** The console's pages (server-rendered HTML) and its JSON API, on a Fastify instance the plugin prepared. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deadLetterTopicOf } from '../consumers/retries/topic-layout.ts';
import type { ConsoleActions } from './console-actions.ts';
import { ConsoleRequestError } from './console-actions.ts';
import { dltFilterOf, filterFields, deadLetterJson, groupJson, kafkaName, parseRequest, purgeBody, releaseBody, replayBody, summaryJson } from './console-api.ts';
import type { AuditTrail } from './console-audit.ts';
import type { Principal } from './console-auth.ts';
import type { ConsoleSources } from './console-sources.ts';
import { auditBody } from './views/audit.ts';
import { deadLetterBody, deadLettersBody, type DltQuery } from './views/dead-letters.ts';
import { groupBody, groupFragment } from './views/group.ts';
import { errorPanel, page, type PageContext } from './views/layout.ts';
import { outboxBody } from './views/outbox.ts';
import { overviewBody, overviewFragment } from './views/overview.ts';
import { parkedKeysBody } from './views/parked-keys.ts';
import { schedulesBody } from './views/schedules.ts';

export interface RouteDependencies {
  base: string;
  sources: ConsoleSources;
  actions: ConsoleActions;
  audit: AuditTrail;
}

/** Credentials in a URL (`redis://:secret@host`) never reach a page or an answer. */
export function withoutSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

function principalOf(request: FastifyRequest): Principal {
  return (request as FastifyRequest & { principal: Principal }).principal;
}

function actorOf(request: FastifyRequest) {
  return { operator: principalOf(request).operator, address: request.ip };
}

function sendPage(reply: FastifyReply, text: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(text);
}

async function attempt<T>(read: () => Promise<T>): Promise<{ value?: T; problem?: string }> {
  try {
    return { value: await read() };
  } catch (error) {
    return { problem: withoutSecrets((error as Error).message) };
  }
}

function singleString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function registerConsoleRoutes(app: FastifyInstance, { base, sources, actions, audit }: RouteDependencies): void {
  const context = (request: FastifyRequest): PageContext => {
    const principal = principalOf(request);
    return { base, operator: principal.operator, csrfToken: principal.csrfToken, showPayloads: sources.options.showPayloads, refreshMs: sources.options.refreshMs };
  };

  app.get('/', async (request, reply) => {
    const { value, problem } = await attempt(() => sources.overview());
    return sendPage(reply, page(context(request), 'Overview', 'overview', value ? overviewBody(context(request), value) : errorPanel(problem!)));
  });
  app.get('/overview/live', async (request, reply) => reply.type('text/html; charset=utf-8').send(overviewFragment(context(request), await sources.overview()).text));

  app.get<{ Params: { group: string } }>('/groups/:group', async (request, reply) => {
    const group = parseRequest(kafkaName, request.params.group, 'group');
    const { value, problem } = await attempt(() => sources.group(group));
    return sendPage(reply, page(context(request), `Group ${group}`, 'group', value ? groupBody(context(request), value) : errorPanel(problem!)));
  });
  app.get<{ Params: { group: string } }>('/groups/:group/live', async (request, reply) => {
    const group = parseRequest(kafkaName, request.params.group, 'group');
    return reply.type('text/html; charset=utf-8').send(groupFragment(context(request), await sources.group(group)).text);
  });

  app.get<{ Querystring: Record<string, unknown> }>('/dlt', async (request, reply) => {
    const q = request.query;
    // Kafka down must read as Kafka down, not as a cluster without dead letters.
    let problem: string | undefined;
    const choices = await sources.groups().catch((error: unknown) => {
      problem = withoutSecrets((error as Error).message);
      return [];
    });
    const [pairGroup, pairTopic] = singleString(q.pair).split(' ');
    const first = choices.find((entry) => entry.topics.length > 0);
    const current: DltQuery = {
      group: singleString(q.group) || pairGroup || first?.group || '',
      topic: singleString(q.topic) || pairTopic || first?.topics[0] || '',
      key: singleString(q.key),
      reason: singleString(q.reason),
      errorType: singleString(q.errorType),
      since: singleString(q.since),
      until: singleString(q.until),
      limit: Math.min(Math.max(Number(singleString(q.limit)) || 100, 1), 1_000),
    };
    let listing;
    if (current.group && current.topic) {
      problem = undefined;
      try {
        const group = parseRequest(kafkaName, current.group, 'group');
        const topic = parseRequest(kafkaName, current.topic, 'topic');
        const filter = dltFilterOf(parseRequest(filterFields, { key: current.key || undefined, reason: current.reason || undefined, errorType: current.errorType || undefined, since: current.since || undefined, until: current.until || undefined }, 'filter'));
        listing = await sources.deadLetters(group, topic, filter, current.limit);
      } catch (error) {
        problem = withoutSecrets((error as Error).message);
      }
    }
    const title = current.topic ? `Dead letters of ${current.topic} (${current.group})` : 'Dead letters';
    return sendPage(reply, page(context(request), title, 'dlt', deadLettersBody(context(request), choices, current, listing, problem, sources.options.replayRatePerSecond, sources.options.maxReplays)), problem ? (current.group && current.topic ? 400 : 503) : 200);
  });

  app.get<{ Querystring: Record<string, unknown> }>('/dlt/record', async (request, reply) => {
    const group = parseRequest(kafkaName, request.query.group, 'group');
    const topic = parseRequest(kafkaName, request.query.topic, 'topic');
    const partition = Number(singleString(request.query.partition));
    const offset = singleString(request.query.offset);
    if (!Number.isInteger(partition) || partition < 0 || !/^\d{1,20}$/.test(offset)) throw new ConsoleRequestError(400, 'partition and offset must be whole numbers');
    const item = await sources.deadLetter(group, topic, partition, offset);
    if (!item) return sendPage(reply, page(context(request), 'Dead letter not found', 'dlt', errorPanel(`${deadLetterTopicOf(topic, group)} has no record at p${partition}@${offset} (purged, or never there)`)), 404);
    return sendPage(reply, page(context(request), `Dead letter p${partition}@${offset}`, 'dlt', deadLetterBody(context(request), { group, topic }, item)));
  });

  app.get<{ Querystring: Record<string, unknown> }>('/keys', async (request, reply) => {
    let problem: string | undefined;
    const groups = (
      await sources.groups().catch((error: unknown) => {
        problem = withoutSecrets((error as Error).message);
        return [];
      })
    ).map((entry) => entry.group);
    const group = singleString(request.query.group) || groups[0] || '';
    let keys;
    if (group) {
      const read = await attempt(() => sources.parkedKeys(parseRequest(kafkaName, group, 'group')));
      keys = read.value;
      problem = read.problem;
    }
    return sendPage(reply, page(context(request), group ? `Parked keys of ${group}` : 'Parked keys', 'keys', parkedKeysBody(context(request), groups.includes(group) || !group ? groups : [group, ...groups], group, keys, problem)));
  });

  app.get('/schedules', async (request, reply) => {
    const { value, problem } = await attempt(() => sources.schedules());
    return sendPage(reply, page(context(request), 'Schedules', 'schedules', schedulesBody(sources.options.scheduleTopic, value, problem)));
  });

  app.get('/outbox', async (request, reply) => {
    const { value, problem } = await attempt(() => sources.outbox());
    return sendPage(reply, page(context(request), 'Outbox', 'outbox', outboxBody(sources.options.outboxTable, sources.options.databaseUrl !== undefined, value, problem)));
  });

  app.get('/audit', async (request, reply) => sendPage(reply, page(context(request), 'Audit', 'audit', auditBody(audit.latest()))));

  // The JSON API.
  app.get('/api/session', async (request) => ({ operator: principalOf(request).operator, csrfToken: principalOf(request).csrfToken, showPayloads: sources.options.showPayloads }));
  app.get('/api/overview', async () => ({ groups: (await sources.overview()).map(summaryJson) }));
  app.get<{ Params: { group: string } }>('/api/groups/:group', async (request) => groupJson(await sources.group(parseRequest(kafkaName, request.params.group, 'group'))));
  app.get<{ Querystring: Record<string, unknown> }>('/api/dlt', async (request) => {
    const { group, topic, limit, ...fields } = request.query;
    const listing = await sources.deadLetters(parseRequest(kafkaName, group, 'group'), parseRequest(kafkaName, topic, 'topic'), dltFilterOf(parseRequest(filterFields, fields, 'filter')), Math.min(Math.max(Number(limit) || 100, 1), 10_000));
    return { dltTopic: listing.dltTopic, total: listing.total, records: listing.records.map(deadLetterJson) };
  });
  app.get<{ Querystring: Record<string, unknown> }>('/api/keys', async (request) => {
    const keys = await sources.parkedKeys(parseRequest(kafkaName, request.query.group, 'group'), request.query.topic === undefined ? undefined : parseRequest(kafkaName, request.query.topic, 'topic'));
    return { keys: keys.map(({ topic, partition, key, state, headReason }) => ({ key, topic, partition, queue: state.queue, headTier: state.headTier, held: state.held, parkedAt: new Date(state.parkedAt).toISOString(), headReason })) };
  });
  app.get('/api/audit', async () => ({ records: audit.latest() }));
  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => {
    const job = actions.job(request.params.id);
    if (!job) throw new ConsoleRequestError(404, 'no such job');
    return job;
  });

  app.post('/api/dlt/replay', async (request, reply) => {
    const body = parseRequest(replayBody, request.body, 'body');
    const { preview, job } = await actions.replay({ group: body.group, topic: body.topic, filter: dltFilterOf(body.filter), records: body.records, includeReplayed: body.includeReplayed, confirm: body.confirm, selection: body.selection }, actorOf(request));
    return reply.code(job ? 202 : 200).send({ dryRun: !job, preview, job: job ?? null });
  });
  app.post('/api/dlt/purge', async (request) => {
    const body = parseRequest(purgeBody, request.body, 'body');
    const { preview, audit: record } = await actions.purge(body, actorOf(request));
    return { dryRun: !record, preview, audit: record ?? null };
  });
  app.post('/api/keys/release', async (request) => {
    const body = parseRequest(releaseBody, request.body, 'body');
    const { preview, audit: record } = await actions.release(body, actorOf(request));
    return { dryRun: !record, preview, audit: record ?? null };
  });
}
