/**
 * The web console for operators (`orderly console`, docs/console.md): a Fastify plugin a service can mount under
 * a prefix of its own server ({@link orderlyConsole}), and {@link startConsole}, which serves it alone. Every
 * request needs the token (401: the login page, or a JSON error); every change (POST) also needs the session's
 * CSRF token and a same-origin `Origin` when one is sent (403). Pages allow scripts and styles from the console
 * only (Content-Security-Policy), are never cached, and are never framed.
 */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { ConfigurationError, OrderlyError } from '../core/errors.ts';
import { componentLogger, createLogger } from '../core/logger.ts';
import { ConsoleActions, ConsoleRequestError } from './console-actions.ts';
import { AuditTrail } from './console-audit.ts';
import { ConsoleAuth, sessionCookie, type Principal } from './console-auth.ts';
import { isLoopback, validateConsoleOptions, type ConsoleOptions } from './console-options.ts';
import { registerConsoleRoutes, withoutSecrets } from './console-routes.ts';
import { ConsoleSources } from './console-sources.ts';
import { consoleCss, consoleJs } from './views/assets.ts';
import { loginPage } from './views/login.ts';

const securityHeaders = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** Paths answered without the token: the login itself and its stylesheet (no data in either). */
const publicPaths = new Set(['/login', '/assets/console.css']);

/** The name in a Host header, without its port, lower case (`[::1]` stays bracketed); '' when there is none. */
export function hostNameOf(header: string | undefined): string {
  const value = (header ?? '').trim().toLowerCase();
  const name = value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : value.split(':')[0]!;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function wantsHtml(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

/** Registers the console on `app` (mount it with `app.register(orderlyConsole, { prefix: '/ops/console', ...options })`). */
export const orderlyConsole: FastifyPluginAsync<ConsoleOptions & { prefix?: string }> = async (app, given) => {
  const { prefix: _prefix, ...rest } = given;
  const options = validateConsoleOptions({ ...rest, basePath: app.prefix });
  const token = options.token ?? process.env.ORDERLY_CONSOLE_TOKEN;
  if (!token || token.length < 16) throw new ConfigurationError(['console.token: a mounted console needs a token of at least 16 characters (token, or ORDERLY_CONSOLE_TOKEN)']);
  const base = app.prefix;
  const logger = componentLogger(options.logger ?? createLogger(), 'console');
  const auth = new ConsoleAuth(token);
  const sources = new ConsoleSources(options);
  const audit = new AuditTrail(logger);
  const actions = new ConsoleActions(sources, audit);
  app.addHook('onClose', async () => {
    // A replay that is running finishes (its records are counted) before the clients close, for at most 30 s.
    const deadline = Date.now() + 30_000;
    while (actions.running().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    await sources.close();
  });

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: 16_384 });
  app.decorateRequest('principal', null);

  const pathOf = (request: FastifyRequest) => request.url.slice(base.length).split('?')[0] || '/';

  const allowedHosts = options.allowedHosts ? new Set(options.allowedHosts.map((name) => name.toLowerCase())) : undefined;

  app.addHook('onRequest', async (request, reply) => {
    void reply.headers(securityHeaders);
    if (allowedHosts && !allowedHosts.has(hostNameOf(request.headers.host))) {
      return reply.code(421).send({ error: 'this console answers only to its own address (Host header), e.g. http://127.0.0.1:<port>/' });
    }
    if (publicPaths.has(pathOf(request))) return;
    const principal = auth.authenticate(request.headers.authorization, request.cookies[sessionCookie], request.headers['x-orderly-operator']);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer');
      if (wantsHtml(request)) return reply.code(401).type('text/html; charset=utf-8').send(loginPage(base, false));
      return reply.code(401).send({ error: 'the console token is required: Authorization: Bearer <token>, or log in' });
    }
    (request as FastifyRequest & { principal: Principal }).principal = principal;
  });

  // A change needs the CSRF token of its session, and a same-origin Origin header when the browser sends one.
  app.addHook('preHandler', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || pathOf(request) === '/login') return;
    const principal = (request as FastifyRequest & { principal: Principal | null }).principal;
    const origin = request.headers.origin;
    const sameOrigin = origin === undefined || origin === `${request.protocol}://${request.headers.host}`;
    const given = request.headers['x-csrf-token'] ?? (request.body as { csrf?: unknown } | undefined)?.csrf;
    if (!principal || !sameOrigin || !auth.csrfMatches(principal, given)) {
      return reply.code(403).send({ error: sameOrigin ? 'a change needs the CSRF token of the session (header x-csrf-token; GET /api/session gives it)' : 'a change must come from the console\'s own pages (Origin does not match)' });
    }
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    let status = 500;
    if (error instanceof ConsoleRequestError) status = error.status;
    else if (error instanceof ConfigurationError || (error instanceof OrderlyError && error.code === 'CONFIGURATION')) status = 400;
    else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) status = error.statusCode;
    const message = withoutSecrets(error.message);
    if (status >= 500) logger.warn({ path: pathOf(request), err: { type: error.name, message } }, 'console request failed');
    if (wantsHtml(request)) return reply.code(status).type('text/html; charset=utf-8').send(`<!doctype html><title>error</title><p>${message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</p>`);
    return reply.code(status).send({ error: message });
  });

  // An unknown path says 404 only to whoever may use the console.
  app.setNotFoundHandler(async (request, reply) => {
    const principal = auth.authenticate(request.headers.authorization, request.cookies[sessionCookie], undefined);
    if (!principal) return reply.headers(securityHeaders).code(401).send({ error: 'the console token is required: Authorization: Bearer <token>, or log in' });
    return reply.code(404).send({ error: 'not found' });
  });

  app.get('/login', async (request, reply) => reply.type('text/html; charset=utf-8').send(loginPage(base, false)));
  app.post<{ Body: { token?: unknown; operator?: unknown } }>('/login', async (request, reply) => {
    const login = auth.login(request.body?.token, request.body?.operator);
    if (!login) return reply.code(401).type('text/html; charset=utf-8').send(loginPage(base, true));
    reply.setCookie(sessionCookie, login.sessionId, { path: base || '/', httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https' });
    return reply.redirect(`${base}/`, 303);
  });
  app.post('/logout', async (request, reply: FastifyReply) => {
    auth.logout((request as FastifyRequest & { principal: Principal }).principal.sessionId);
    reply.clearCookie(sessionCookie, { path: base || '/' });
    return reply.redirect(`${base}/login`, 303);
  });
  app.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(consoleCss));
  app.get('/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(consoleJs));

  registerConsoleRoutes(app, { base, sources, actions, audit });
};

export interface RunningConsole {
  /** The Fastify server (for `inject` in tests). */
  app: FastifyInstance;
  /** `http://127.0.0.1:8088` plus the base path. */
  url: string;
  port: number;
  host: string;
  /** The token every request needs. */
  token: string;
  /** True when the token was made up at start (print it: nobody else knows it). */
  tokenGenerated: boolean;
  stop(): Promise<void>;
}

/** Serves the console alone: the token is `options.token`, else ORDERLY_CONSOLE_TOKEN, else a random one. */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const valid = validateConsoleOptions(options);
  const given = valid.token ?? (process.env.ORDERLY_CONSOLE_TOKEN || undefined);
  const token = given ?? randomBytes(24).toString('base64url');
  const app = Fastify({ logger: false, bodyLimit: 1_048_576, requestTimeout: 120_000 });
  // Bound to loopback, the console is reached by these names only: any other Host is a rebound name (DNS rebinding).
  const allowedHosts = valid.allowedHosts ?? (isLoopback(valid.host) ? ['127.0.0.1', 'localhost', '[::1]'] : undefined);
  await app.register(orderlyConsole, { ...options, token, prefix: valid.basePath, ...(allowedHosts ? { allowedHosts } : {}) });
  const address = await app.listen({ port: valid.port, host: valid.host });
  const port = Number(new URL(address).port);
  const host = valid.host.includes(':') ? `[${valid.host}]` : valid.host;
  return {
    app,
    url: `http://${host}:${port}${valid.basePath}`,
    port,
    host: valid.host,
    token,
    tokenGenerated: given === undefined,
    stop: () => app.close(),
  };
}
