/** docker-compose.yml cannot run here (no Docker engine); this checks what it promises, as far as text can. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseSettings } from '../../infra/stack/stack-settings.ts';
import { defaultStackDir, projectRoot } from '../../infra/stack/stack-paths.ts';

interface ComposeService {
  image: string;
  environment?: Record<string, string>;
  command?: string[];
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const text = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');

/** Compose's own interpolation of `${NAME:-default}` and `${NAME}`, from `env`. */
function interpolate(source: string, env: Record<string, string>): string {
  return source.replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => env[name] || fallback || '');
}

function composeWith(env: Record<string, string> = {}) {
  return parse(interpolate(text, env)) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
}

const compose = composeWith();

/** The host port a service publishes for a container port. */
function hostPort(service: ComposeService, containerPort: number): string {
  const mapping = service.ports!.find((port) => port.endsWith(`:${containerPort}`))!;
  return mapping.split(':').at(-2)!;
}

/** Runs the `stack-env` service's command with its bind mount pointed at a temporary folder; returns the settings. */
function stackEnvWritten(env: Record<string, string> = {}) {
  const service = composeWith(env).services['stack-env']!;
  const folder = mkdtempSync(join(tmpdir(), 'orderly-compose-'));
  try {
    const [shell, flag, script] = service.command!;
    execFileSync(shell!, [flag!, script!.replaceAll('/orderly/', `${folder}/`)]);
    return parseSettings(readFileSync(join(folder, 'stack.env'), 'utf8'));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('docker-compose.yml', () => {
  it('runs Kafka, the Confluent schema registry, Redis and PostgreSQL, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'postgres', 'redis', 'schema-registry', 'stack-env']);
    for (const [name, service] of Object.entries(compose.services)) if (name !== 'stack-env') expect(service.healthcheck?.test.length).toBeGreaterThan(0);
    expect(compose.services['schema-registry']!.image).toMatch(/^confluentinc\/cp-schema-registry:/);
  });

  it('runs Kafka in KRaft mode without topic auto-creation, and Redis with AOF', () => {
    const kafka = compose.services.kafka!.environment!;
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
  });

  it("keeps Kafka's log in the compose volume: KAFKA_LOG_DIRS is where kafka-data is mounted", () => {
    const kafka = compose.services.kafka!;
    const mount = kafka.volumes!.map((volume) => volume.split(':')).find(([name]) => name === 'kafka-data');
    expect(mount).toBeDefined();
    expect(kafka.environment!.KAFKA_LOG_DIRS).toBe(mount![1]);
    expect(compose.volumes).toHaveProperty('kafka-data');
  });

  it('writes .orderly/stack.env, the file the CLI reads, once every service is healthy, with the published ports', () => {
    const service = compose.services['stack-env']!;
    expect(Object.fromEntries(Object.entries(service.depends_on!).map(([name, { condition }]) => [name, condition]))).toEqual({
      kafka: 'service_healthy',
      'schema-registry': 'service_healthy',
      redis: 'service_healthy',
      postgres: 'service_healthy',
    });
    // The bind mount is the stack folder the CLI reads in this checkout (<project>/.orderly).
    expect(service.volumes).toEqual(['./.orderly:/orderly']);
    expect(defaultStackDir({})).toBe(join(projectRoot, '.orderly'));

    const settings = stackEnvWritten();
    expect(settings).toEqual({
      KAFKA_BROKERS: `127.0.0.1:${hostPort(compose.services.kafka!, 9092)}`,
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${hostPort(compose.services['schema-registry']!, 8081)}`,
      REDIS_URL: `redis://127.0.0.1:${hostPort(compose.services.redis!, 6379)}`,
      DATABASE_URL: `postgres://postgres:orderly@127.0.0.1:${hostPort(compose.services.postgres!, 5432)}/test`,
    });
    // Kafka advertises the address the settings name, or clients would be sent elsewhere after bootstrap.
    expect(compose.services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain(`PLAINTEXT://${settings.KAFKA_BROKERS}`);
  });

  it('moves every port, and the settings with it, from ORDERLY_*_PORT', () => {
    const env = { ORDERLY_KAFKA_PORT: '19092', ORDERLY_REGISTRY_PORT: '18081', ORDERLY_REDIS_PORT: '16380', ORDERLY_POSTGRES_PORT: '15433' };
    const moved = composeWith(env);
    expect(hostPort(moved.services.kafka!, 9092)).toBe('19092');
    expect(moved.services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://127.0.0.1:19092');
    expect(stackEnvWritten(env)).toEqual({
      KAFKA_BROKERS: '127.0.0.1:19092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081',
      REDIS_URL: 'redis://127.0.0.1:16380',
      DATABASE_URL: 'postgres://postgres:orderly@127.0.0.1:15433/test',
    });
  });
});
