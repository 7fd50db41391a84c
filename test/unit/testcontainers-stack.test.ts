/** The testcontainers stack (no Docker engine here): Kafka advertises the container runtime's host, not 127.0.0.1. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kafkaContainerEnvironment } from '../support/testcontainers-stack.ts';

describe('the testcontainers stack', () => {
  it('advertises the container host and the published port to clients, and kafka:29092 inside the network', () => {
    const environment = kafkaContainerEnvironment('docker.example.internal', 29100);
    expect(environment.KAFKA_ADVERTISED_LISTENERS).toBe('PLAINTEXT://docker.example.internal:29100,INTERNAL://kafka:29092');
    expect(environment.KAFKA_LISTENERS).toContain('PLAINTEXT://0.0.0.0:9092');
  });

  it('configures the broker as docker-compose.yml does, but for the address', () => {
    const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { services: { kafka: { environment: Record<string, string> } } };
    const fromCompose = { ...compose.services.kafka.environment };
    const fromTestcontainers = kafkaContainerEnvironment('localhost', 9092);
    for (const name of ['KAFKA_ADVERTISED_LISTENERS', 'KAFKA_LOG_DIRS']) {
      delete fromCompose[name];
      delete fromTestcontainers[name];
    }
    expect(fromTestcontainers).toEqual(fromCompose);
  });
});
