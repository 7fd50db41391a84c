/**
 * The `orderly` command tree: each verb from `commands/<verb>.ts`, a global `--timeout`, an example at the end of
 * every help screen, required options marked, and a broker check before any command that talks to Kafka.
 * `bin.ts` runs it; tests build it to read every help screen.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { packageRoot } from '../core/package-root.ts';
import { registerStackCommand } from './commands/stack.ts';
import { registerSchemasCommand } from './commands/schemas.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerTopicsCommand } from './commands/topics.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerDltCommand } from './commands/dlt.ts';
import { registerLagCommand } from './commands/lag.ts';
import { registerCronCommand } from './commands/cron.ts';
import { registerOutboxCommand } from './commands/outbox.ts';
import { registerConsoleCommand } from './commands/console.ts';
import { defaultTimeoutSeconds, probeBrokers, timeoutSeconds } from './support/broker-probe.ts';
import { finishHelp } from './support/help-examples.ts';

/** The version in the package's manifest (the checkout's or the installed package's). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;
}

export function createProgram(): Command {
  const program = new Command()
    .name('orderly')
    .description('Ordered, idempotent event processing on Apache Kafka')
    .version(packageVersion())
    .option('--timeout <seconds>', 'how long a command waits for a Kafka broker to answer before it gives up', timeoutSeconds, defaultTimeoutSeconds);

  registerStackCommand(program);
  registerSchemasCommand(program);
  registerDemoCommand(program);
  registerTopicsCommand(program);
  registerKeysCommand(program);
  registerDltCommand(program);
  registerLagCommand(program);
  registerCronCommand(program);
  registerOutboxCommand(program);
  registerConsoleCommand(program);
  finishHelp(program);

  // Every command that talks to Kafka (it takes --brokers) first checks that a broker answers within --timeout.
  program.hook('preAction', async (_program, action) => {
    if (!action.options.some((option) => option.long === '--brokers')) return;
    // `stack up --brokers <count>` starts the brokers: a node count, not an address to probe.
    if (action.parent?.name() === 'stack') return;
    const { timeout } = program.opts<{ timeout: number }>();
    await probeBrokers(action.opts<{ brokers?: string }>().brokers, timeout * 1_000);
  });
  return program;
}
