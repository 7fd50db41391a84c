import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { kafkaClientOptionsFromEnv, validateKafkaClientOptions, type KafkaClientOptions } from '../../../core/kafka-client.ts';

describe('validateKafkaClientOptions', () => {
  it('reports every bad value at once, each with the option name and the fix', () => {
    let caught: unknown;
    try {
      validateKafkaClientOptions({ brokers: ['no-port'], requestTimeoutMs: -1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    const error = caught as ConfigurationError;
    expect(error.code).toBe('CONFIGURATION');
    expect(error.problems).toHaveLength(2);
    expect(error.message).toContain('kafka.brokers.0: must be host:port, for example 127.0.0.1:9092');
    expect(error.message).toContain('kafka.requestTimeoutMs');
  });

  it('asks for at least one broker and says how to give one', () => {
    expect(() => validateKafkaClientOptions({ brokers: [] })).toThrow(/set KAFKA_BROKERS/);
  });

  it('never puts a SASL password in its error message', () => {
    const options: KafkaClientOptions = { brokers: ['b:9092'], sasl: { mechanism: 'scram-sha-512', username: '', password: 's3cret' } };
    expect(() => validateKafkaClientOptions(options)).toThrow(ConfigurationError);
    try {
      validateKafkaClientOptions(options);
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('s3cret');
    }
  });
});

describe('kafkaClientOptionsFromEnv', () => {
  it('reads brokers, TLS and SCRAM credentials from the environment', () => {
    const options = kafkaClientOptionsFromEnv({
      KAFKA_BROKERS: 'a:9092, b:9093',
      KAFKA_TLS: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'orderly',
      KAFKA_SASL_PASSWORD: 'pw',
    });
    expect(options).toEqual({
      brokers: ['a:9092', 'b:9093'],
      tls: true,
      sasl: { mechanism: 'scram-sha-256', username: 'orderly', password: 'pw' },
    });
    expect(validateKafkaClientOptions(options).sasl?.mechanism).toBe('scram-sha-256');
  });
});
