/**
 * What createLogger's redaction must catch beyond plain fields (the gaps found in review of redactCredentials):
 * credentials in Error objects (their own fields, message, stack and cause chain), in what a serializer returns,
 * and in lines of child loggers that bring their own formatters or serializers; and never less than pino's
 * path redaction (`redactedPaths`) catches on the same line.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, redactedPaths } from '../../../core/logger.ts';

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
  return { lines, logger: createLogger({ level: 'info', ...options }, sink) };
}

describe('createLogger redaction: Error objects', () => {
  it('censors credential fields of an error, under err and under any other name', () => {
    const { lines, logger } = capture();
    const error = Object.assign(new Error('connect failed'), { password: 'secret-1', config: { sasl: { password: 'secret-2' } } });
    logger.error({ err: error }, 'failed');
    logger.error({ error, eventId: 'e-1' }, 'failed');
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toMatch(/secret-/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ err: { message: 'connect failed', password: '[redacted]' } });
  });

  it('censors a connection string password in an error message and stack, and through the cause chain', () => {
    const { lines, logger } = capture();
    const cause = Object.assign(new Error('AUTH failed for redis://default:secret-3@127.0.0.1:6379/0'), { authorization: 'Bearer secret-4' });
    const error = new Error('could not reach postgres://orderly:secret-5@db:5432/ledger (password=secret-6)', { cause });
    logger.error({ err: error }, 'store unreachable');
    logger.error(error, 'store unreachable'); // an error given as the line itself
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toMatch(/secret-/);
    const line = JSON.parse(lines[0]!) as { err: { message: string; stack: string } };
    expect(line.err.message).toContain('postgres://orderly:[redacted]@db:5432/ledger');
    expect(line.err.stack).toContain('redis://default:[redacted]@127.0.0.1');
  });
});

describe('createLogger redaction: serializers and child loggers', () => {
  it('censors what a serializer returns', () => {
    const { lines, logger } = capture({ serializers: { client: (client: { options: object }) => client.options } });
    logger.info({ client: { options: { host: 'h', password: 'secret-7', ssl: { key: 'secret-8' } } } }, 'connected');
    expect(lines.join('')).not.toMatch(/secret-/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ client: { host: 'h', password: '[redacted]' } });
  });

  it('censors the lines of a child logger with its own log formatter or serializers', () => {
    const { lines, logger } = capture();
    logger.child({ component: 'c' }, { formatters: { log: (fields: object) => ({ ...fields, tagged: true }) } }).info({ password: 'secret-9' }, 'child formatter');
    logger.child({ component: 'c' }, { serializers: { conn: (conn: { options: object }) => conn.options } }).info({ conn: { options: { authorization: 'secret-10' } } }, 'child serializer');
    logger.child({ conn: { options: { password: 'secret-11' } } }, { serializers: { conn: (conn: { options: object }) => conn.options } }).info('child bindings through its serializer');
    expect(lines).toHaveLength(3);
    expect(lines.join('')).not.toMatch(/secret-/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ tagged: true, password: '[redacted]' });
  });

  it('never lets through a credential that pino path redaction censors (random lines)', () => {
    const names = ['password', 'sasl', 'authorization', 'ssl', 'key', 'headers', 'kafka', 'registry', 'err', 'eventId', 'options'];
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648), Math.floor(seed / 65_536) % n);
    let secret = 0;
    const value = (depth: number): unknown => {
      const kind = random(depth > 2 ? 2 : 4);
      if (kind === 0) return `secret-${++secret}`;
      if (kind === 1) return random(100);
      const object = (kind === 3 ? new Error(`boom ${random(9)}`) : {}) as Record<string, unknown>;
      for (let field = random(4); field >= 0; field--) object[names[random(names.length)]!] = value(depth + 1);
      return object;
    };
    const ours = capture();
    const theirs: string[] = [];
    const reference = pino({ level: 'info', redact: { paths: [...redactedPaths], censor: '[redacted]' } }, new Writable({ write: (chunk, _encoding, done) => (theirs.push(String(chunk)), done()) }));
    for (let index = 0; index < 2_000; index++) {
      const fields: Record<string, unknown> = {};
      for (let field = random(5); field >= 0; field--) fields[names[random(names.length)]!] = value(1);
      ours.logger.info(fields, 'line');
      reference.info(fields, 'line');
      const shownByUs = new Set(ours.lines[index]!.match(/secret-\d+/g) ?? []);
      const shownByPino = new Set(theirs[index]!.match(/secret-\d+/g) ?? []);
      for (const shown of shownByUs) expect(shownByPino.has(shown), `${shown} in ${ours.lines[index]} (pino: ${theirs[index]})`).toBe(true);
    }
  });
});
