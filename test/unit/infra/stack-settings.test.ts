import { describe, expect, it } from 'vitest';
import { formatSettings, parseSettings, settingsFromEnv } from '../../../infra/stack/stack-settings.ts';

describe('stack settings', () => {
  const settings = {
    KAFKA_BROKERS: '127.0.0.1:19092',
    REDIS_URL: 'redis://127.0.0.1:16379',
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  };

  it('round-trips through the env file format', () => {
    expect(parseSettings(formatSettings(settings))).toEqual(settings);
  });

  it('ignores comments, blank lines and names it does not know', () => {
    expect(parseSettings('# comment\n\nPATH=/bin\nKAFKA_BROKERS= a:1 \n')).toEqual({ KAFKA_BROKERS: 'a:1' });
  });

  it('leaves out the registry until one runs', () => {
    const { SCHEMA_REGISTRY_URL: _omitted, ...withoutRegistry } = settings;
    expect(formatSettings(withoutRegistry)).not.toContain('SCHEMA_REGISTRY_URL');
  });

  it('takes settings from the environment only when Kafka is named there', () => {
    expect(settingsFromEnv({ REDIS_URL: 'redis://x' })).toBeUndefined();
    expect(settingsFromEnv({ KAFKA_BROKERS: 'b:9092', REDIS_URL: 'redis://x' })).toEqual({ KAFKA_BROKERS: 'b:9092', REDIS_URL: 'redis://x' });
  });
});
