/** docker-compose.yml cannot run here (no Docker engine); this checks what it promises, as far as text can. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface ComposeService {
  image: string;
  environment?: Record<string, string>;
  command?: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, ComposeService>;
};

describe('docker-compose.yml', () => {
  it('runs Kafka, the Confluent schema registry, Redis and PostgreSQL, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'postgres', 'redis', 'schema-registry']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck?.test.length).toBeGreaterThan(0);
    expect(compose.services['schema-registry']!.image).toMatch(/^confluentinc\/cp-schema-registry:/);
  });

  it('runs Kafka in KRaft mode without topic auto-creation, and Redis with AOF', () => {
    const kafka = compose.services.kafka!.environment!;
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
  });
});
