/** `orderly stack up | down | status`: the local stack without Docker (infra/stack). */
import type { Command } from 'commander';
import { LocalStack } from '../../infra/stack/local-stack.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { formatSettings, settingsFile } from '../../infra/stack/stack-settings.ts';
import { positiveInteger } from '../support/option-parsers.ts';

function localStack(brokers?: number): LocalStack {
  return new LocalStack({ dir: defaultStackDir(), log: (line) => console.error(line), brokers });
}

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description('run the local stack (Kafka in KRaft mode, Redis, PostgreSQL) as local processes');

  stack
    .command('up')
    .description('start what is not running, wait until all answers, print the settings')
    .option(
      '--brokers <count>',
      'Kafka nodes: 1, or 3 for a KRaft cluster (replication factor 3, min ISR 2) (default: what the stack folder holds, else 1)',
      positiveInteger('--brokers'),
    )
    .action(async (options: { brokers?: number }) => {
      const startedAt = Date.now();
      const stackInstance = localStack(options.brokers);
      const settings = await stackInstance.up();
      console.error(`stack healthy after ${((Date.now() - startedAt) / 1000).toFixed(1)} s; settings in ${settingsFile(stackInstance.dir)}`);
      process.stdout.write(formatSettings(settings));
    });

  stack
    .command('down')
    .description('stop every process the stack started (data is kept unless --purge)')
    .option('--purge', 'also delete the stack folder (topics, offsets, Redis data)', false)
    .action(async (options: { purge: boolean }) => {
      await localStack().down({ purge: options.purge });
    });

  stack
    .command('status')
    .description('show each service, its pid and whether it answers; exit 1 when one does not')
    .option('--json', 'print one JSON array (service, healthy, managed, pid, address) instead of a table')
    .action(async (options: { json?: boolean }) => {
      const statuses = await localStack().status();
      if (options.json) console.log(JSON.stringify(statuses, null, 2));
      for (const status of options.json ? [] : statuses) {
        const pid = status.managed ? `pid ${status.pid ?? '-'}` : 'external';
        const service = status.node === undefined ? status.service : `${status.service} node ${status.node}`;
        console.log(`${service.padEnd(16)} ${(status.healthy ? 'healthy' : 'DOWN').padEnd(8)} ${pid.padEnd(11)} ${status.address}`);
      }
      if (statuses.some((status) => !status.healthy)) process.exitCode = 1;
    });
}
