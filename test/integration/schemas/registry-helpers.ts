import { onTestFinished } from 'vitest';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';
import { testStack, uniqueName } from '../../support/test-stack.ts';

export function registryUrl(): string {
  const url = testStack().settings.SCHEMA_REGISTRY_URL;
  if (!url) throw new Error('the stack has no SCHEMA_REGISTRY_URL: run `npx orderly stack up`');
  return url;
}

export function testRegistry(): SchemaRegistryClient {
  return new SchemaRegistryClient({ url: registryUrl() });
}

/** A unique subject, deleted (soft, then permanent) when the test ends. */
export function testSubject(prefix = 'subject'): string {
  const subject = `${uniqueName(prefix)}-value`;
  onTestFinished(() => deleteSubject(subject));
  return subject;
}

export async function deleteSubject(subject: string): Promise<void> {
  await fetch(`${registryUrl()}/subjects/${encodeURIComponent(subject)}`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${registryUrl()}/subjects/${encodeURIComponent(subject)}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
}
