/**
 * Before a command that talks to Kafka does anything, the CLI checks that the brokers answer, within `--timeout`
 * seconds (default 10): the bootstrap address, then every broker the cluster advertises (the ones holding the
 * partitions may sit at other addresses). An unreachable broker then fails in one line that names the address
 * and the likely cause, never as a stack trace after kafkajs's own retries.
 */
import { InvalidArgumentError } from 'commander';
import { OrderlyError } from '../../core/errors.ts';
import { createKafkaClient, kafkaClientOptionsFromEnv, type KafkaClientOptions } from '../../core/kafka-client.ts';
import { requiredSetting } from './settings.ts';

export const defaultTimeoutSeconds = 10;

/** The likely cause of a failed connection, from the error chain's codes and messages. */
export function likelyCause(error: unknown): string {
  const text: string[] = [];
  for (let cause = error, depth = 0; cause && depth < 6; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { name, message, code } = cause as { name?: string; message?: string; code?: string };
    text.push(`${name ?? ''} ${code ?? ''} ${message ?? ''}`);
  }
  const all = text.join(' ');
  if (/ECONNREFUSED/.test(all)) return 'nothing listens there: is the broker running (`orderly stack status`), and is the port right?';
  if (/ENOTFOUND|EAI_AGAIN/.test(all)) return 'the host name does not resolve: check the address';
  if (/SASLAuthentication|authentication failed/i.test(all)) return 'the broker refused the credentials: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD';
  if (/SSL|TLS|certificate|EPROTO/i.test(all)) return 'the TLS handshake failed: check KAFKA_TLS and that the port speaks TLS';
  if (/EHOSTUNREACH|ENETUNREACH/.test(all)) return 'the host is unreachable from here: check the network and the address';
  return 'no answer in time: the broker may be down, or a firewall or a wrong port is in the way';
}

/** Parses `--timeout`: a positive number of seconds. */
export function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError(`--timeout must be a positive number of seconds, got "${value}"`);
  return seconds;
}

/** The part of a Kafka client the probe uses (injectable for unit tests). */
type ProbeClient = (options: KafkaClientOptions) => {
  admin(config: { retry: { retries: number } }): {
    connect(): Promise<void>;
    describeCluster(): Promise<{ brokers: { nodeId: number; host: string; port: number }[] }>;
    disconnect(): Promise<void>;
  };
};

/**
 * Connects an admin client to `brokers` (else KAFKA_BROKERS, else the local stack), asks it for the brokers the
 * cluster advertises and connects to each of them, all within `timeoutMs`; throws an {@link OrderlyError}
 * naming the address and the likely cause when one does not answer in time.
 */
export async function probeBrokers(brokers: string | undefined, timeoutMs: number, createClient: ProbeClient = createKafkaClient as unknown as ProbeClient): Promise<void> {
  const options = kafkaClientOptionsFromEnv();
  options.brokers = requiredSetting('KAFKA_BROKERS', brokers).split(',').map((broker) => broker.trim()).filter(Boolean);
  options.clientId = options.clientId ?? 'orderly-cli';
  options.connectionTimeoutMs = Math.max(100, Math.min(timeoutMs, 3_000));
  const address = options.brokers.join(',');
  const clients: { disconnect(): Promise<void> }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
  });
  /** Connects to `at`; a failure names `label`. */
  const connect = async (at: string[], label: string) => {
    const admin = createClient({ ...options, brokers: at }).admin({ retry: { retries: 0 } });
    clients.push(admin);
    try {
      await Promise.race([admin.connect(), deadline]);
    } catch (error) {
      // An error the client already explains (a refused password names the user and the settings) stays as it is.
      if (error instanceof OrderlyError) throw error;
      const what = (error as Error).message === 'timed out' ? `did not answer within ${timeoutMs / 1_000} s (--timeout)` : 'is unreachable';
      throw new OrderlyError('STACK_UNAVAILABLE', `${label} ${what}: ${likelyCause(error)}`, { cause: error });
    }
    return admin;
  };
  try {
    const bootstrap = await connect(options.brokers, `Kafka at ${address}`);
    const cluster = await Promise.race([bootstrap.describeCluster(), deadline]).catch((error: unknown) => {
      const what = (error as Error).message === 'timed out' ? `did not describe its brokers within ${timeoutMs / 1_000} s (--timeout)` : `did not describe its brokers (${(error as Error).message})`;
      throw new OrderlyError('STACK_UNAVAILABLE', `Kafka at ${address} ${what}: ${likelyCause(error)}`, { cause: error });
    });
    const advertised = cluster.brokers.map(({ nodeId, host, port }) => ({ nodeId, at: `${host}:${port}` })).filter(({ at }) => !options.brokers.includes(at));
    await Promise.all(advertised.map(({ nodeId, at }) => connect([at], `Kafka broker ${nodeId} at ${at} (advertised by ${address})`)));
  } finally {
    clearTimeout(timer);
    for (const client of clients) void client.disconnect().catch(() => undefined);
  }
}
