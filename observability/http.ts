/**
 * The opt-in HTTP endpoints of one process: `GET /metrics` (Prometheus text format), `GET /healthz` (the
 * process answers: 200) and `GET /readyz` (200 when every readiness check passes, else 503 with the reasons,
 * as JSON). Started only when asked for, on the port given.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import { componentLogger, createLogger, type Logger } from '../core/logger.ts';
import { OrderlyMetrics, sharedOrderlyMetrics } from './metrics.ts';

/** Something `/readyz` asks: a {@link ConsumerInstrumentation} (joined its group) or a {@link LagMonitor} (no partition stuck). */
export interface ReadinessCheck {
  readiness(): { ready: boolean; reasons: string[] };
}

export interface ObservabilityServerOptions {
  /** The port to listen on; 0 picks a free one (read it from {@link ObservabilityServer.port}). */
  port: number;
  /** The interface to bind. @defaultValue `'0.0.0.0'` (Prometheus scrapes from outside the process's host) */
  host?: string;
  /** What `/metrics` shows. @defaultValue the shared metrics (`sharedOrderlyMetrics()`) */
  metrics?: OrderlyMetrics;
  /** What `/readyz` asks; ready when all are (and when there are none). @defaultValue [] */
  readiness?: ReadinessCheck[];
  /** @defaultValue silent */
  logger?: Logger;
}

export const defaultObservabilityServerOptions = { host: '0.0.0.0', readiness: [] } satisfies Partial<ObservabilityServerOptions>;

const optionsSchema = z.object({
  port: z.number({ message: 'must be a port number, e.g. 9464 (0 picks a free one)' }).int().min(0).max(65_535, 'must be at most 65535'),
  host: z.string().min(1).default(defaultObservabilityServerOptions.host),
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

export class ObservabilityServer {
  private readonly server: Server;
  private readonly metrics: OrderlyMetrics;
  private readonly checks: ReadinessCheck[];
  private readonly logger: Logger;
  private readonly host: string;
  private readonly requestedPort: number;

  constructor(options: ObservabilityServerOptions) {
    const valid = validateObservabilityServerOptions(options);
    this.metrics = valid.metrics ?? sharedOrderlyMetrics();
    this.checks = [...valid.readiness];
    this.host = valid.host;
    this.requestedPort = valid.port;
    this.logger = componentLogger(options.logger ?? createLogger(), 'observability-server');
    this.server = createServer((request, response) => void this.respond(request, response));
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
    this.logger.info({ host: this.host, port: this.port }, 'observability endpoints listening');
  }

  /** The port it listens on (the one picked, when started with 0). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? this.requestedPort;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', 'only GET\n');
    try {
      if (path === '/metrics') return send(response, 200, this.metrics.contentType, await this.metrics.exposition());
      if (path === '/healthz') return send(response, 200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        const reasons = this.checks.flatMap((check) => check.readiness().reasons);
        return send(response, reasons.length === 0 ? 200 : 503, 'application/json', `${JSON.stringify({ ready: reasons.length === 0, reasons })}\n`);
      }
      return send(response, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    } catch (error) {
      this.logger.warn({ path, err: { type: (error as Error).name, message: (error as Error).message } }, 'observability request failed');
      return send(response, 500, 'text/plain', 'internal error\n');
    }
  }
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
