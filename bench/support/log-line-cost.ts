/**
 * What one log line costs, in µs: a 7-field line (the fixed fields of docs/guarantees.md) at `info` to
 * /dev/null, written by Orderly's `createLogger` (credentials censored per line by `redactCredentials`), by
 * pino with the `redactedPaths` path redaction (what `createLogger` did before), and by pino with no redaction;
 * then a failure line (the same fields and an `err` with a cause, as a failure, retry or DLT line carries),
 * where `createLogger` also scans the error's fields, message and stack.
 * Usage: node bench/support/log-line-cost.ts [lines=200000]
 */
import { pino, type Logger } from 'pino';
import { createLogger, redactedPaths } from '../../core/logger.ts';

const lines = Number(process.argv[2] ?? 200_000);
const destination = () => pino.destination({ dest: '/dev/null', sync: false });
const loggers: Record<string, Logger> = {
  'createLogger (redactCredentials)': createLogger({ level: 'info' }, destination()).child({ component: 'ordered-consumer', groupId: 'g' }),
  'pino + redactedPaths (before)': pino({ level: 'info', redact: { paths: [...redactedPaths], censor: '[redacted]' } }, destination()).child({ component: 'ordered-consumer', groupId: 'g' }),
  'pino, no redaction': pino({ level: 'info' }, destination()).child({ component: 'ordered-consumer', groupId: 'g' }),
};
const fields = (index: number) => ({ eventId: `e-${index}`, eventType: 'orderly.bench.BenchDeposited', key: `account-${index % 10_000}`, topic: 'bench', partition: index % 12, offset: String(index), status: 'handled' });
const results: Record<string, number[]> = {};
for (let round = 0; round < 4; round++) {
  for (const [name, logger] of Object.entries(loggers)) {
    const startedAt = performance.now();
    for (let index = 0; index < lines; index++) logger.info(fields(index), 'event handled');
    const micros = ((performance.now() - startedAt) * 1000) / lines;
    if (round > 0) (results[name] ??= []).push(micros); // round 0 warms up
  }
}
const cause = new Error('ECONNRESET');
const failure = new Error('the handler failed: downstream answered 503', { cause });
for (let round = 0; round < 4; round++) {
  for (const [name, logger] of Object.entries(loggers)) {
    const startedAt = performance.now();
    for (let index = 0; index < lines / 10; index++) logger.warn({ ...fields(index), err: failure }, 'event failed; retrying');
    const micros = ((performance.now() - startedAt) * 1000 * 10) / lines;
    if (round > 0) (results[`${name}, failure line`] ??= []).push(micros);
  }
}
for (const [name, values] of Object.entries(results)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} ${sorted[1]!.toFixed(2)} µs per line (runs ${values.map((value) => value.toFixed(2)).join(', ')})`);
}

