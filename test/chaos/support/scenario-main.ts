/**
 * Runs a scenario file as a program (`node test/chaos/<scenario>.chaos.ts`): against the shared stack's
 * settings (the environment, else `.orderly/stack.env`), printing its result as one `CHAOS-RESULT {json}`
 * line on stdout; the exit code says whether it passed. The runner (run-chaos.ts) enforces the time limit.
 */
import { fileURLToPath } from 'node:url';
import { defaultStackDir } from '../../../infra/stack/stack-paths.ts';
import { readSettings, settingsFromEnv, type StackSettings } from '../../../infra/stack/stack-settings.ts';
import type { ScenarioResult } from './chaos-run.ts';

export const resultPrefix = 'CHAOS-RESULT ';

export function sharedSettings(): StackSettings {
  const settings = settingsFromEnv() ?? readSettings(defaultStackDir());
  if (!settings?.KAFKA_BROKERS || !settings.REDIS_URL || !settings.DATABASE_URL) {
    throw new Error('no running stack: run `npx orderly stack up` (or set KAFKA_BROKERS, REDIS_URL and DATABASE_URL)');
  }
  return settings as StackSettings;
}

export function isMain(meta: ImportMeta): boolean {
  return process.argv[1] === fileURLToPath(meta.url);
}

export async function runAsMain(meta: ImportMeta, scenario: (settings: StackSettings) => Promise<ScenarioResult>): Promise<void> {
  if (!isMain(meta)) return;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  try {
    const result = await scenario(sharedSettings());
    process.stdout.write(`${resultPrefix}${JSON.stringify(result)}\n`);
    process.exit(result.passed ? 0 : 1);
  } catch (error) {
    process.stderr.write(`scenario failed to run: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  }
}
