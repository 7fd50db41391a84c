import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of the nearest `package.json` above `moduleUrl` (a module's `import.meta.url`): the repository
 * when the TypeScript runs from a checkout, the installed package when the compiled `dist/` runs from
 * `node_modules`. Files shipped beside the code (`schemas/avro`, `infra/kafka/pom.xml`) are found from it, so
 * the same relative path works in both layouts.
 */
export function packageRoot(moduleUrl: string | URL): string {
  let folder = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`);
    folder = parent;
  }
  return folder;
}

/** Whether `folder` is a package installed under a `node_modules` folder (not a checkout). */
export function isInstalledPackage(folder: string): boolean {
  return folder.split(/[\\/]/).includes('node_modules');
}
