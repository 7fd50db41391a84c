/**
 * Runs this checkout's CLI (`cli/bin.ts`) as a child process against the test stack, as an operator would.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { testStack } from './test-stack.ts';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The stack's addresses as the CLI reads them (environment first). */
export function cliEnv(): NodeJS.ProcessEnv {
  const { settings } = testStack();
  return { ...process.env, KAFKA_BROKERS: settings.KAFKA_BROKERS, REDIS_URL: settings.REDIS_URL, SCHEMA_REGISTRY_URL: settings.SCHEMA_REGISTRY_URL ?? '' };
}

/** `orderly <args>`: never throws on a non-zero exit; the code, stdout and stderr are returned. */
export async function orderly(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/bin.ts', ...args], { cwd: projectRoot, env: cliEnv(), timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliResult;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
