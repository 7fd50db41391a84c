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
  // Operator-facing errors carry their fix in the message; anything else keeps its stack.
  console.error(error instanceof OrderlyError ? `orderly: ${error.message}` : error);
  process.exitCode = 1;
}
