/**
 * One CLI: every help screen ends with an example, required options say so, every command that takes a group
 * takes it as `--group`, read commands take `--json`, and an unreachable broker fails within `--timeout` in one
 * line naming the address and the likely cause (no stack trace).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../../cli/program.ts';
import { allCommands, commandPath } from '../../../cli/support/help-examples.ts';
import { likelyCause } from '../../../cli/support/broker-probe.ts';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';

const run = promisify(execFile);

function helpOf(path: string): string {
  const command = allCommands(createProgram()).find((candidate) => commandPath(candidate) === path)!;
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

const paths = allCommands(createProgram()).map(commandPath);

describe('the orderly command line', () => {
  it.each(paths)('ends the help of "orderly %s" with an example', (path) => {
    const lines = helpOf(path).trimEnd().split('\n');
    const exampleAt = lines.findIndex((line) => /^Examples?:$/.test(line));
    expect(exampleAt).toBeGreaterThan(0);
    expect(lines.slice(exampleAt + 1).every((line) => line.startsWith('  $ orderly'))).toBe(true);
  });

  it('marks every required option as required', () => {
    for (const command of allCommands(createProgram())) {
      for (const option of command.options.filter((candidate) => candidate.mandatory)) expect(option.description, `${commandPath(command)} ${option.long}`).toMatch(/\(required\)$/);
    }
  });

  it('takes a consumer group only as --group, never as a positional argument', () => {
    for (const command of allCommands(createProgram())) {
      expect(command.registeredArguments.map((argument) => argument.name()), commandPath(command)).not.toContain('group');
    }
    const lag = allCommands(createProgram()).find((command) => commandPath(command) === 'lag')!;
    expect(lag.options.find((option) => option.long === '--group')?.mandatory).toBe(true);
  });

  it.each(['topics check', 'dlt list', 'keys parked', 'lag', 'stack status'])('offers --json on the read command "orderly %s"', (path) => {
    const command = allCommands(createProgram()).find((candidate) => commandPath(candidate) === path)!;
    expect(command.options.map((option) => option.long)).toContain('--json');
  });

  it('names the likely cause of a failed connection', () => {
    expect(likelyCause(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toMatch(/nothing listens there/);
    expect(likelyCause(new Error('getaddrinfo ENOTFOUND kafka.invalid'))).toMatch(/does not resolve/);
    expect(likelyCause(Object.assign(new Error('outer'), { cause: { name: 'KafkaJSSASLAuthenticationError', message: 'bad' } }))).toMatch(/credentials/);
    expect(likelyCause(new Error('timed out'))).toMatch(/no answer in time/);
  });

  it('fails within --timeout on an unreachable broker, in one line naming the address, without a stack trace', async () => {
    const startedAt = Date.now();
    const result = await run(process.execPath, ['cli/bin.ts', '--timeout', '3', 'topics', 'check', 'orders', '--group', 'billing', '--brokers', '127.0.0.1:1'], {
      cwd: projectRoot,
      env: { ...process.env, KAFKA_BROKERS: '' },
      timeout: 60_000,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    const elapsedMs = Date.now() - startedAt;
    expect(result).toMatchObject({ code: 1, stdout: '' });
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^orderly: Kafka at 127\.0\.0\.1:1 (is unreachable|did not answer within 3 s)/);
    // 3 s of --timeout plus Node's start; generous for a loaded machine, far below kafkajs's own retries.
    expect(elapsedMs).toBeLessThan(15_000);
  }, 60_000);
});

describe('--confirm', () => {
  it('takes the count the dry run reported, on every command that changes something', () => {
    const confirming = allCommands(createProgram()).filter((command) => command.options.some((option) => option.long === '--confirm'));
    expect(confirming.map(commandPath).sort()).toEqual(['dlt purge', 'dlt replay', 'keys release']);
    for (const command of confirming) expect(command.options.find((option) => option.long === '--confirm')!.flags, commandPath(command)).toBe('--confirm <count>');
  });
});
