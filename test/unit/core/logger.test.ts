import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createLogger, redactCredentials, redactedPaths } from '../../../core/logger.ts';

describe('logger redaction', () => {
  it('never writes a password or SASL credentials', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ redact: { paths: [...redactedPaths], censor: '[redacted]' } }, sink);
    logger.info({ kafka: { sasl: { username: 'u', password: 'hunter2' } }, password: 'hunter3' }, 'connecting');
    expect(lines.join('')).not.toMatch(/hunter[23]/);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('censors every credential path, top-level and one level down, and leaves the fixed fields alone', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ redact: { paths: [...redactedPaths], censor: '[redacted]' } }, sink);
    logger.info(
      {
        sasl: { mechanism: 'plain', password: 'secret-1' },
        ssl: { key: 'secret-2', ca: 'public-ca' },
        authorization: 'secret-3',
        headers: { authorization: 'secret-4', accept: 'json' },
        registry: { password: 'secret-5', authorization: 'secret-6' },
        kafka: { ssl: { key: 'secret-7' } },
        eventId: 'e-1',
        key: 'account-1',
      },
      'line',
    );
    const line = JSON.parse(lines[0]!);
    expect(lines[0]).not.toMatch(/secret-/);
    expect(line).toMatchObject({ sasl: '[redacted]', authorization: '[redacted]', headers: { authorization: '[redacted]', accept: 'json' }, ssl: { ca: 'public-ca' }, eventId: 'e-1', key: 'account-1' });
  });
});

describe('createLogger', () => {
  it('writes to the destination it is given, redacted as ever', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    createLogger({ level: 'debug' }, sink).debug({ sasl: { password: 'hunter4' } }, 'to the sink');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('to the sink');
    expect(lines[0]).not.toContain('hunter4');
  });
});

describe('createLogger redaction (no pino path redaction: redactCredentials on every line and binding)', () => {
  const capture = () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    return { lines, logger: createLogger({ level: 'info' }, sink) };
  };

  it('censors the same paths as redactedPaths, top-level and one level down, and leaves the fixed fields alone', () => {
    const { lines, logger } = capture();
    const fields = {
      sasl: { mechanism: 'plain', password: 'secret-1' },
      ssl: { key: 'secret-2', ca: 'public-ca' },
      authorization: 'secret-3',
      headers: { authorization: 'secret-4', accept: 'json' },
      registry: { password: 'secret-5', authorization: 'secret-6' },
      kafka: { ssl: { key: 'secret-7' }, sasl: { password: 'secret-8' } },
      password: 'secret-9',
      eventId: 'e-1',
      key: 'account-1',
    };
    logger.info(fields, 'line');
    const line = JSON.parse(lines[0]!);
    expect(lines[0]).not.toMatch(/secret-/);
    expect(line).toMatchObject({ sasl: '[redacted]', authorization: '[redacted]', password: '[redacted]', headers: { authorization: '[redacted]', accept: 'json' }, ssl: { key: '[redacted]', ca: 'public-ca' }, registry: { password: '[redacted]' }, kafka: { sasl: '[redacted]', ssl: { key: '[redacted]' } }, eventId: 'e-1', key: 'account-1' });
    // The caller's object is never changed.
    expect(fields.ssl.key).toBe('secret-2');
    expect(fields.kafka.ssl.key).toBe('secret-7');
  });

  it('censors credentials bound to a child logger', () => {
    const { lines, logger } = capture();
    logger.child({ kafka: { sasl: { password: 'hunter5' } }, password: 'hunter6' }).info({ eventId: 'e-2' }, 'bound');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/hunter[56]/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ eventId: 'e-2', password: '[redacted]', kafka: { sasl: '[redacted]' } });
  });

  it('returns a line with no credential field as it is (no copy)', () => {
    const fields = { eventId: 'e', topic: 't', partition: 1, err: new Error('boom'), nested: { accept: 'json' } };
    expect(redactCredentials(fields)).toBe(fields);
  });
});
