#!/usr/bin/env node
/** The `orderly` command line. Each verb lives in `commands/<verb>.ts`. */
import { Command } from 'commander';
import { OrderlyError } from '../core/errors.ts';
import { registerStackCommand } from './commands/stack.ts';
import { registerSchemasCommand } from './commands/schemas.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerTopicsCommand } from './commands/topics.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerDltCommand } from './commands/dlt.ts';
import { registerLagCommand } from './commands/lag.ts';
import { describeUnexpected } from './support/unexpected-error.ts';
import { terminalSafeLines } from './support/terminal-text.ts';

// kafkajs 2.2.4 schedules a negative timeout on Node 24 (kafkajs #1751); Node clamps it to 1 ms and warns on
// every command. Harmless, so the CLI does not print it; every other warning still shows.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning' || (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const program = new Command()
  .name('orderly')
  .description('Ordered, idempotent event processing on Apache Kafka')
  .version('0.1.0');

registerStackCommand(program);
registerSchemasCommand(program);
registerDemoCommand(program);
registerTopicsCommand(program);
registerKeysCommand(program);
registerDltCommand(program);
registerLagCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Operator-facing errors carry their fix in the message; anything else keeps its stack, never its properties.
  console.error(error instanceof OrderlyError ? `orderly: ${terminalSafeLines(error.message)}` : describeUnexpected(error));
  process.exitCode = 1;
}
