import { describe, expect, it } from 'vitest';
import { ConfigurationError, OrderlyError } from '../../../core/errors.ts';
import { explainConnectError, isUnknownTopicError, kafkaClientOptionsFromEnv, kafkajsLogCreator, validateKafkaClientOptions, type KafkaClientOptions } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';

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

describe('explainConnectError', () => {
  const options = { brokers: ['127.0.0.1:19094'], sasl: { mechanism: 'scram-sha-512' as const, username: 'orderly', password: 'planted-S3cret' } };

  it('turns a refused SASL login into a non-retriable error naming the user and what to check, never the password', () => {
    const refused = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), { name: 'KafkaJSSASLAuthenticationError' });
    const explained = explainConnectError(refused, options) as OrderlyError;
    expect(explained).toBeInstanceOf(OrderlyError);
    expect(explained.retriable).toBe(false);
    expect(explained.message).toMatch(/authentication failed for user "orderly" \(SCRAM-SHA-512\) at 127\.0\.0\.1:19094: check the username and password/);
    expect(explained.message).not.toContain('planted-S3cret');
    expect(explained.cause).toBe(refused);
  });

  it('leaves any other error as it is', () => {
    const refused = new Error('Connection error: connect ECONNREFUSED');
    expect(explainConnectError(refused, options)).toBe(refused);
  });
});

describe('isUnknownTopicError', () => {
  it('recognises the broker saying that a topic does not exist', () => {
    expect(isUnknownTopicError(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(true);
    const unknown = Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(isUnknownTopicError(Object.assign(new Error(unknown.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause: unknown }))).toBe(true);
    expect(isUnknownTopicError(new Error('other'))).toBe(false);
    expect(isUnknownTopicError(undefined)).toBe(false);
  });
});

describe("kafkajs's log lines", () => {
  function capture() {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
    return { lines, log: kafkajsLogCreator(logger)() };
  }
  const entry = (level: number, message: string, error: string) => ({ namespace: 'Connection', label: 'ERROR', level, log: { timestamp: 'now', logger: 'kafkajs', message, error } });

  it('logs a heartbeat refused because the group rebalances at debug: it is how every member learns of a rebalance', () => {
    const { lines, log } = capture();
    log(entry(1, 'Response Heartbeat(key: 12, version: 3)', 'The group is rebalancing, so a rejoin is needed'));
    expect(lines.map((line) => line.level)).toEqual([20]);
  });

  it('keeps any other refused request at error, a refused heartbeat too', () => {
    const { lines, log } = capture();
    log(entry(1, 'Response Heartbeat(key: 12, version: 3)', 'The coordinator is not aware of this member'));
    log(entry(1, 'Response OffsetCommit(key: 8, version: 5)', 'The group is rebalancing, so a rejoin is needed'));
    expect(lines.map((line) => line.level)).toEqual([50, 50]);
  });
});
