import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { redactedPaths } from '../../../core/logger.ts';

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
