/**
 * docs/configuration.md is generated from the option interfaces, their TSDoc and their zod schemas
 * (scripts/configuration-doc.ts). This fails when an option, its comment or its schema changed and the page
 * was not regenerated (`npm run docs:config`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import { optionsSources, renderConfigurationDoc } from '../../../scripts/configuration-doc.ts';

describe('docs/configuration.md', () => {
  it('is what the script renders from the sources today (run `npm run docs:config` when this fails)', () => {
    const committed = readFileSync(join(projectRoot, 'docs/configuration.md'), 'utf8');
    expect(committed === renderConfigurationDoc(projectRoot), 'docs/configuration.md is stale: run `npm run docs:config`').toBe(true);
  });

  it('documents every option of every options interface, with the schema\'s rules', () => {
    const page = renderConfigurationDoc(projectRoot);
    expect(optionsSources.length).toBeGreaterThanOrEqual(10);
    for (const entry of optionsSources) expect(page).toContain(`## ${entry.title}`);
    expect(page).toMatch(/\| `concurrency` \| `number` \| 64 \| integer, > 0, <= 100000 \| Handler calls in flight/);
    expect(page).toMatch(/\| `maxInFlightRequests` \| `number` \| 1 \| integer, >= 1, <= 5 \|/);
    expect(page).toMatch(/\| `handler` \| `EventHandler<T>` \| \*\*required\*\* \|/);
  });
});
