/**
 * `orderly console` as an operator runs it: it binds 127.0.0.1, prints its address and a token it made up (or
 * only says where the token comes from when ORDERLY_CONSOLE_TOKEN gives it), answers 401 without the token, and
 * stops on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { cliEnv } from '../../support/orderly-cli.ts';

async function runConsole(env: NodeJS.ProcessEnv, check: (url: string, output: string) => Promise<void>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['cli/bin.ts', 'console', '--port', '0', '--group', 'console-command-test'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!/on (http:\/\/\S+)\//.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`orderly console did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // the token line follows the address
    await check(/on (http:\/\/\S+)\//.exec(output)![1]!, output);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 45_000))]);
  return { code, output };
}

describe('orderly console', () => {
  it('prints its address on 127.0.0.1 and a token it made up, refuses requests without it, and stops on SIGTERM', async () => {
    const env = { ...cliEnv(), ORDERLY_CONSOLE_TOKEN: '' };
    const { code, output } = await runConsole(env, async (url, printed) => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const token = /token: (\S+)/.exec(printed)![1]!;
      expect((await fetch(`${url}/api/session`)).status).toBe(401);
      const session = await fetch(`${url}/api/session`, { headers: { authorization: `Bearer ${token}` } });
      expect(session.status).toBe(200);
    });
    expect(code).toBe(0);
    expect(output).toContain('orderly console stopped');
  });

  it('takes the token from ORDERLY_CONSOLE_TOKEN and does not print it', async () => {
    const token = 'console-command-test-token-0123';
    const { code, output } = await runConsole({ ...cliEnv(), ORDERLY_CONSOLE_TOKEN: token }, async (url) => {
      expect((await fetch(`${url}/api/session`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    });
    expect(code).toBe(0);
    expect(output).toContain('token: the one in ORDERLY_CONSOLE_TOKEN');
    expect(output).not.toContain(token);
  });
});
