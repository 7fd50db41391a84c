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
