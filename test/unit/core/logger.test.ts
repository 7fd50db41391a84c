import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createLogger, redactedPaths } from '../../../core/logger.ts';

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
