#!/usr/bin/env node
/** The `orderly` command line (the command tree is in `program.ts`; each verb in `commands/<verb>.ts`). */
import { OrderlyError } from '../core/errors.ts';
import { createProgram } from './program.ts';
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

const program = createProgram();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Operator-facing errors carry their fix in the message; anything else keeps its stack, never its properties.
  console.error(error instanceof OrderlyError ? `orderly: ${terminalSafeLines(error.message)}` : describeUnexpected(error));
  process.exitCode = 1;
  // A broker that did not answer may leave kafkajs reconnecting in the background: do not wait for it.
  if (error instanceof OrderlyError && error.code === 'STACK_UNAVAILABLE') process.exit(1);
}
