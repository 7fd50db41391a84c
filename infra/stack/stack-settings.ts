/**
 * The settings a running stack hands to the CLI, the tests and the demo: written by `orderly stack up` to
 * `<stackDir>/stack.env` (KEY=value lines, loadable by a shell or `node --env-file`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from './stack-state.ts';

export interface StackSettings {
  /** Comma-separated `host:port` list. */
  KAFKA_BROKERS: string;
  REDIS_URL: string;
  DATABASE_URL: string;
  /** Set once a schema registry runs in the stack. */
  SCHEMA_REGISTRY_URL?: string;
}

export const settingNames = ['KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_URL', 'SCHEMA_REGISTRY_URL'] as const;

export function settingsFile(stackDir: string): string {
  return join(stackDir, 'stack.env');
}

export function formatSettings(settings: StackSettings): string {
  return settingNames
    .filter((name) => settings[name] !== undefined)
    .map((name) => `${name}=${settings[name]}`)
    .join('\n')
    .concat('\n');
}

export function parseSettings(text: string): Partial<StackSettings> {
  const settings: Partial<Record<(typeof settingNames)[number], string>> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_]+)=(.*)$/.exec(line);
    if (!match) continue;
    const [, name, value] = match as unknown as [string, string, string];
    if ((settingNames as readonly string[]).includes(name)) {
      settings[name as (typeof settingNames)[number]] = value.trim();
    }
  }
  return settings;
}

export function writeSettings(stackDir: string, settings: StackSettings): void {
  writeFileAtomically(settingsFile(stackDir), formatSettings(settings));
}

export function readSettings(stackDir: string): Partial<StackSettings> | undefined {
  const file = settingsFile(stackDir);
  return existsSync(file) ? parseSettings(readFileSync(file, 'utf8')) : undefined;
}

/** The settings given in the environment, when at least Kafka is named there. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<StackSettings> | undefined {
  if (!env.KAFKA_BROKERS) return undefined;
  const settings: Partial<StackSettings> = {};
  for (const name of settingNames) if (env[name]) settings[name] = env[name];
  return settings;
}
