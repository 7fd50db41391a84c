/**
 * The opt-in HTTP endpoints of one process: `GET /metrics` (Prometheus text format), `GET /healthz` (the
 * process answers: 200) and `GET /readyz` (200 when every readiness check passes, else 503 with the reasons,
 * as JSON). Started only when asked for, on the port given, bound to 127.0.0.1 unless another address is named.
 *
 * No request can hurt the process: a request line, target or header the server cannot read is answered with a
 * 4xx (400, 405, 408, 413 or 431) and logged (rate-limited), never thrown. With a `token`, every path but
 * `/healthz` needs `Authorization: Bearer <token>` (401 otherwise).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { OrderlyMetrics, sharedOrderlyMetrics } from './metrics.ts';
import { RequestErrorLog } from './request-error-log.ts';

/** Something `/readyz` asks: a {@link ConsumerInstrumentation} (joined its group) or a {@link LagMonitor} (no partition stuck). */
export interface ReadinessCheck {
  readiness(): { ready: boolean; reasons: string[] };
}

export interface ObservabilityServerOptions {
  /** The port to listen on; 0 picks a free one (read it from {@link ObservabilityServer.port}). */
  port: number;
  /**
   * The interface to bind. Name `'0.0.0.0'` (or a pod address) explicitly when Prometheus scrapes from another
   * host, and consider a `token` then. @defaultValue `'127.0.0.1'` (this host only)
   */
  host?: string;
  /**
   * A bearer token: when set, `/metrics` and `/readyz` answer only requests carrying
   * `Authorization: Bearer <token>` (401 otherwise); `/healthz` stays open for liveness probes.
   * At least 8 characters. @defaultValue none (no token asked)
   */
  token?: string;
  /** What `/metrics` shows. @defaultValue the shared metrics (`sharedOrderlyMetrics()`) */
  metrics?: OrderlyMetrics;
  /** What `/readyz` asks; ready when all are (and when there are none). @defaultValue [] */
  readiness?: ReadinessCheck[];
  /** @defaultValue silent */
  logger?: Logger;
}

export const defaultObservabilityServerOptions = { host: '127.0.0.1', readiness: [] } satisfies Partial<ObservabilityServerOptions>;

const optionsSchema = z.object({
  port: z.number({ message: 'must be a port number, e.g. 9464 (0 picks a free one)' }).int().min(0).max(65_535, 'must be at most 65535'),
  host: z.string().min(1).default(defaultObservabilityServerOptions.host),
  token: z
    .string()
    .min(8, 'must be at least 8 characters (a random string, e.g. `openssl rand -hex 16`)')
    .regex(/^[\x21-\x7e]+$/, 'may hold only printable ASCII without spaces (it travels in an HTTP header)')
    .optional(),
  metrics: z.instanceof(OrderlyMetrics, { message: 'must be an OrderlyMetrics' }).optional(),
  readiness: z
    .array(z.custom<ReadinessCheck>((value) => typeof (value as ReadinessCheck | undefined)?.readiness === 'function', 'each must have a readiness() method'))
    .default(defaultObservabilityServerOptions.readiness),
});

export function validateObservabilityServerOptions(options: ObservabilityServerOptions): z.output<typeof optionsSchema> {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map((issue) => `observabilityServer.${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

/** The status a parse error of Node's HTTP parser is answered with. */
function clientErrorStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request Header Fields Too Large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout'];
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return [413, 'Content Too Large'];
  return [400, 'Bad Request'];
}

export class ObservabilityServer {
  /** The interface it binds (or bound). */
  readonly host: string;
  private readonly server: Server;
  private readonly metrics: OrderlyMetrics;
  private readonly checks: ReadinessCheck[];
  private readonly logger: Logger;
  private readonly requestedPort: number;
  private readonly tokenDigest: Buffer | undefined;
  private readonly errors: RequestErrorLog;

  constructor(options: ObservabilityServerOptions) {
    const valid = validateObservabilityServerOptions(options);
    this.metrics = valid.metrics ?? sharedOrderlyMetrics();
    this.checks = [...valid.readiness];
    this.host = valid.host;
    this.requestedPort = valid.port;
    this.tokenDigest = valid.token === undefined ? undefined : digest(valid.token);
    this.logger = componentLogger(options.logger ?? createLogger(), 'observability-server');
    this.errors = new RequestErrorLog(this.logger);
    this.server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (request, response) => {
      this.respond(request, response).catch((error: unknown) => this.fail(response, error, 'observability request failed'));
    });
    // CONNECT (and an upgrade nobody asked for) would otherwise close the socket unanswered.
    const refuse = (_request: IncomingMessage, socket: Socket) => {
      this.errors.report({ status: 405, code: 'METHOD_NOT_ALLOWED' });
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    };
    this.server.on('connect', refuse);
    // A request the parser refuses (bad request line, header, size): answered here, never an exception.
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const [status, text] = clientErrorStatus(error.code);
      this.errors.report({ status, code: error.code ?? error.name });
      if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
        socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 1}\r\nconnection: close\r\n\r\n${text}\n`);
      } else {
        socket.destroy();
      }
    });
  }

  /** Adds a readiness check (a consumer started later, say). */
  addReadinessCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.logger.info({ host: this.address, port: this.port, tokenRequired: this.tokenDigest !== undefined }, 'observability endpoints listening');
  }

  /** The port it listens on (the one picked, when started with 0). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? this.requestedPort;
  }

  /** The address it listens on, once started (else the one it will bind). */
  get address(): string {
    return (this.server.address() as AddressInfo | null)?.address ?? this.host;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // A connection still sending (a slow client) is cut after a moment, so stop() is bounded.
    const timer = setTimeout(() => this.server.closeAllConnections(), 1_000);
    await closed;
    clearTimeout(timer);
  }

  private async respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = pathOf(request.url);
    if (path === undefined) {
      this.errors.report({ status: 400, code: 'BAD_TARGET' });
      return send(response, 400, 'text/plain', 'bad request target\n');
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      this.errors.report({ status: 405, code: 'METHOD_NOT_ALLOWED' });
      response.setHeader('allow', 'GET, HEAD');
      return send(response, 405, 'text/plain', 'only GET and HEAD\n');
    }
    if (path !== '/healthz' && !this.authorized(request)) {
      this.errors.report({ status: 401, code: 'UNAUTHORIZED' });
      response.setHeader('www-authenticate', 'Bearer');
      return send(response, 401, 'text/plain', 'a bearer token is required\n');
    }
    try {
      if (path === '/metrics') return send(response, 200, this.metrics.contentType, await this.metrics.exposition());
      if (path === '/healthz') return send(response, 200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        const reasons = this.checks.flatMap((check) => check.readiness().reasons);
        return send(response, reasons.length === 0 ? 200 : 503, 'application/json', `${JSON.stringify({ ready: reasons.length === 0, reasons })}\n`);
      }
      return send(response, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    } catch (error) {
      this.fail(response, error, 'observability request failed', path);
    }
  }

  private authorized(request: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]+)$/.exec(header) : null;
    return match !== null && timingSafeEqual(digest(match[1]!), this.tokenDigest);
  }

  private fail(response: ServerResponse, error: unknown, message: string, path?: string): void {
    this.logger.warn({ path, err: { type: (error as Error | undefined)?.name, message: (error as Error | undefined)?.message } }, message);
    if (!response.headersSent) send(response, 500, 'text/plain', 'internal error\n');
    else response.destroy();
  }
}

/** The path of a request target (origin form or absolute form), or undefined when it is not one. */
function pathOf(target: string | undefined): string | undefined {
  if (target === undefined || !(target.startsWith('/') || /^https?:\/\//i.test(target))) return undefined;
  if (target.startsWith('//')) return undefined;
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

/** Creates and starts an {@link ObservabilityServer}. */
export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const server = new ObservabilityServer(options);
  await server.start();
  return server;
}
