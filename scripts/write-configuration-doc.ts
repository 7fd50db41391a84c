/** `npm run docs:config`: writes docs/configuration.md from the option sources (scripts/configuration-doc.ts). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../core/package-root.ts';
import { renderConfigurationDoc } from './configuration-doc.ts';

const root = packageRoot(import.meta.url);
writeFileSync(join(root, 'docs/configuration.md'), renderConfigurationDoc(root));
console.error('wrote docs/configuration.md');
