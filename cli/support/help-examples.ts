/**
 * The example every help screen ends with, by command path (`orderly dlt list --help` ends with the `dlt list`
 * one). Kept here, not in each command file; a command without one fails test/unit/cli/cli-consistency.test.ts.
 */
import type { Command } from 'commander';

export const helpExamples: Record<string, string[]> = {
  '': ['orderly stack up', 'orderly topics create orders --group billing --partitions 12', 'orderly lag --group billing --topic orders'],
  stack: ['orderly stack up', 'orderly stack status --json'],
  'stack up': ['orderly stack up'],
  'stack down': ['orderly stack down', 'orderly stack down --purge'],
  'stack status': ['orderly stack status', 'orderly stack status --json'],
  schemas: ['orderly schemas check --dir schemas/avro --subject-name-strategy topic-record --topic ledger'],
  'schemas check': ['orderly schemas check --dir schemas/avro --subject-name-strategy topic-record --topic ledger --registry http://localhost:8081 --json'],
  'schemas register': ['orderly schemas register --dir schemas/avro --subject-name-strategy topic-record --topic ledger --registry http://localhost:8081'],
  'schemas codegen': [
    'orderly schemas codegen --dir schemas/avro --topic accounts.ledger --out examples/ledger/ledger-event-types.ts',
    'orderly schemas codegen --dir schemas/avro --topic accounts.ledger --out examples/ledger/ledger-event-types.ts --check',
  ],
  'schemas diff': ['orderly schemas diff schemas/avro/FundsDeposited.avsc schemas/avro/FundsDeposited.v2.avsc'],
  demo: ['orderly demo --events 20000 --keys 500 --chaos'],
  'demo run': ['orderly demo run --events 20000 --keys 500 --fail-rate 0.02 --chaos'],
  'demo produce': ['orderly demo produce --events 1000'],
  'demo work': ['orderly demo work --member one'],
  'demo verify': ['orderly demo verify'],
  outbox: ['orderly outbox relay --database postgres://app@db/app', 'orderly outbox status'],
  'outbox relay': ['orderly outbox relay --database postgres://app@db/app --table app.orderly_outbox --metrics-port 9465'],
  'outbox status': ['orderly outbox status --table app.orderly_outbox --json'],
  'outbox requeue': ['orderly outbox requeue --topic orders'],
  topics: ['orderly topics create orders --group billing --partitions 12', 'orderly topics check --file topics.yaml'],
  'topics create': [
    'orderly topics create orders --group billing --partitions 12 --replication-factor 3 --min-insync-replicas 2',
    'orderly topics create --file topics.yaml',
  ],
  'topics check': ['orderly topics check orders --group billing --replication-factor 3', 'orderly topics check --file topics.yaml --json'],
  keys: ['orderly keys parked --group billing'],
  'keys parked': ['orderly keys parked --group billing --json'],
  'keys release': ['orderly keys release account-42 --topic orders --group billing', 'orderly keys release account-42 --topic orders --group billing --confirm 1'],
  dlt: ['orderly dlt list --topic orders --group billing'],
  'dlt list': ['orderly dlt list --topic orders --group billing --reason handler-error --json'],
  'dlt replay': ['orderly dlt replay --topic orders --group billing --reason handler-error', 'orderly dlt replay --topic orders --group billing --reason handler-error --confirm 12'],
  'dlt purge': ['orderly dlt purge --topic orders --group billing', 'orderly dlt purge --topic orders --group billing --confirm 12'],
  cron: ['orderly cron init', "orderly cron run --name nightly-report --schedule '0 0 2 * * *' --timezone Europe/Berlin --topic reports", 'orderly cron list'],
  'cron init': ['orderly cron init --schedule-topic orderly.schedules --replication-factor 3'],
  'cron run': ["orderly cron run --name nightly-report --schedule '0 0 2 * * *' --timezone Europe/Berlin --topic reports --missed-slots skip"],
  'cron list': ['orderly cron list', 'orderly cron list --json'],
  console: ['orderly console', 'orderly console --group billing --port 8088 --no-payloads', 'orderly console --metrics http://127.0.0.1:9464/metrics --metrics http://127.0.0.1:9465/metrics'],
  lag: ['orderly lag --group billing --topic orders', 'orderly lag --group billing --topic orders --topic refunds --json'],
};

/** The command's path below the program: `dlt list` for `orderly dlt list`, `''` for `orderly` itself. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current?.parent; current = current.parent) names.unshift(current.name());
  return names.join(' ');
}

/** Every command of `program`, itself first, depth first. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((command) => allCommands(command))];
}

/**
 * Ends each help screen with its examples and marks required options "(required)". A command without an
 * example still works (test/unit/cli/cli-consistency.test.ts is what fails for it).
 */
export function finishHelp(program: Command): void {
  for (const command of allCommands(program)) {
    const examples = helpExamples[commandPath(command)];
    if (examples) command.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((line) => `  $ ${line}`).join('\n')}`);
    for (const option of command.options) {
      if (option.mandatory && !option.description.endsWith('(required)')) option.description = `${option.description} (required)`;
    }
  }
}
