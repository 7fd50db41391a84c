/**
 * `orderly stack up | status | down` on a second, private stack in a temporary folder: idempotent `up`, recovery
 * after the broker is SIGKILLed (data kept), and no process left behind by `down`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LocalStack } from '../../infra/stack/local-stack.ts';
import { isAlive } from '../../infra/stack/process-control.ts';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { parseSettings } from '../../infra/stack/stack-settings.ts';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { testStack, uniqueName } from '../support/test-stack.ts';

const run = promisify(execFile);

describe.runIf(testStack().kind === 'local')('the local stack CLI', () => {
  it('starts once however often `up` runs, survives a broker SIGKILL, and `down` leaves no process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orderly-stack-'));
    const env: NodeJS.ProcessEnv = { ...process.env, ORDERLY_STACK_DIR: dir, DATABASE_URL: testStack().settings.DATABASE_URL };
    delete env.REDIS_URL;
    const orderly = (...args: string[]) => run(process.execPath, ['cli/bin.ts', ...args], { cwd: projectRoot, env });
    const stack = new LocalStack({ dir, env });
    try {
      const first = await orderly('stack', 'up');
      const settings = parseSettings(first.stdout);
      expect(settings.KAFKA_BROKERS).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(settings.SCHEMA_REGISTRY_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
      expect(settings.REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      const started = stack.readState();

      const second = await orderly('stack', 'up');
      expect(parseSettings(second.stdout)).toEqual(settings);
      expect(second.stderr).toContain('kafka: already running');
      expect(stack.readState()).toEqual(started);
      const status = await orderly('stack', 'status');
      expect(status.stdout.match(/healthy/g)).toHaveLength(4);

      // A topic written before the crash is still there after `up` brings the broker back.
      const topic = uniqueName('survivor');
      const admin = createKafkaClient({ brokers: [settings.KAFKA_BROKERS!] }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      await admin.disconnect();
      process.kill(started.kafka!.pid!, 'SIGKILL');
      await expect.poll(() => isAlive(started.kafka!.pid!)).toBe(false);
      const statusAfterKill = await orderly('stack', 'status').catch((error: { code: number; stdout: string }) => error);
      expect(statusAfterKill).toMatchObject({ code: 1 });
      await orderly('stack', 'up');
      const restarted = stack.readState();
      expect(restarted.kafka!.pid).not.toBe(started.kafka!.pid);
      expect(restarted.kafka!.port).toBe(started.kafka!.port);
      const adminAfter = createKafkaClient({ brokers: [settings.KAFKA_BROKERS!] }).admin();
      await adminAfter.connect();
      expect(await adminAfter.listTopics()).toContain(topic);
      await adminAfter.disconnect();

      await orderly('stack', 'down');
      for (const pid of [restarted.kafka!.pid!, restarted.redis!.pid!, restarted.registry!.pid!]) {
        expect(isAlive(pid)).toBe(false);
      }
      const downStatus = await orderly('stack', 'status').catch((error: { code: number; stdout: string }) => error);
      expect(downStatus).toMatchObject({ code: 1 });
    } finally {
      await stack.down({ purge: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
