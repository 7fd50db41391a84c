/**
 * A closed producer lets its process exit: a publish waiting for a token of a slow rate limit (one per 50 s) is
 * rejected by close(), and no timer of that wait keeps the process alive.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createTestTopic, testStack } from '../../support/test-stack.ts';
import { registryUrl } from '../schemas/registry-helpers.ts';

describe('EventProducer.close in a process', () => {
  it('the process exits promptly after close(), not when the rate-limit wait would have ended', async () => {
    const topic = await createTestTopic({ prefix: 'close-exit' });
    const child = spawn(process.execPath, ['test/support/workers/rate-limited-close.ts'], {
      env: { ...process.env, KAFKA_BROKERS: testStack().settings.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: registryUrl(), TOPIC: topic },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let closedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (closedAt === 0 && output.includes('closed')) closedAt = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(killer);
    const exitedAfterMs = performance.now() - closedAt;
    expect(code, output).toBe(0);
    expect(output).toContain('closed; second publish: STOPPED');
    // The abandoned wait was a 50 s timer: anything near it means the timer kept the process alive.
    expect(exitedAfterMs, output).toBeLessThan(20_000);
  }, 120_000);
});
