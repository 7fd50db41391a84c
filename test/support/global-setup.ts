/**
 * Finds the stack the integration tests run against, in this order: settings from the environment
 * (`KAFKA_BROKERS`, ...); else testcontainers when a Docker engine answers; else the local stack of
 * `orderly stack up`, started here when it is not running. The local stack is left running at the end: other
 * test runs may share it, and `orderly stack down` (or .ci/run's exit trap) stops it.
 */
import type { TestProject } from 'vitest/node';
import { LocalStack } from '../../infra/stack/local-stack.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { settingsFromEnv, type StackSettings } from '../../infra/stack/stack-settings.ts';
import type { TestStack } from './stack-kind.ts';
import { dockerEngineAnswers, startTestcontainersStack } from './testcontainers-stack.ts';
import './stack-kind.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = settingsFromEnv();
  if (fromEnv && process.env.ORDERLY_TEST_STACK !== 'local') {
    provide(project, { kind: 'env', settings: fromEnv as StackSettings });
    return async () => undefined;
  }
  if (process.env.ORDERLY_TEST_STACK !== 'local' && dockerEngineAnswers()) {
    const started = await startTestcontainersStack();
    provide(project, { kind: 'testcontainers', settings: started.settings });
    return started.stop;
  }
  const stack = new LocalStack({ dir: defaultStackDir(), log: (line) => console.log(`[stack] ${line}`) });
  provide(project, { kind: 'local', settings: await stack.up() });
  return async () => undefined;
}

function provide(project: TestProject, stack: TestStack): void {
  console.log(`[stack] integration tests run against the ${stack.kind} stack: Kafka ${stack.settings.KAFKA_BROKERS}`);
  project.provide('stack', stack);
}
