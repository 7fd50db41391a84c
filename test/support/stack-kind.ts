import type { StackSettings } from '../../infra/stack/stack-settings.ts';

/** Where the integration tests' stack came from. */
export type StackKind = 'env' | 'testcontainers' | 'local';

export interface TestStack {
  kind: StackKind;
  settings: StackSettings;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
