import { resolve } from 'node:path';
import { isInstalledPackage, packageRoot } from '../../core/package-root.ts';

/** The project root: the checkout, or the installed package (`node_modules/orderly`) when `dist/` runs. */
export const projectRoot = packageRoot(import.meta.url);

/**
 * Where the local stack keeps its data, logs and settings: `ORDERLY_STACK_DIR`, else `<project>/.orderly` in
 * a checkout, else `.orderly` in the current folder when Orderly is an installed package (so a reinstall of
 * `node_modules` never deletes a running stack's data).
 */
export function defaultStackDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = isInstalledPackage(projectRoot) ? cwd : projectRoot;
  return resolve(env.ORDERLY_STACK_DIR ?? resolve(home, '.orderly'));
}

/** The jars Maven fetches for the broker (`infra/kafka/pom.xml`). */
export const kafkaPom = resolve(projectRoot, 'infra/kafka/pom.xml');
export const kafkaLibsDir = resolve(projectRoot, 'infra/kafka/target/libs');
export const kafkaLog4jConfig = resolve(projectRoot, 'infra/kafka/log4j2.properties');

/** Apicurio Registry, fetched and unpacked by Maven (`infra/registry/pom.xml`). */
export const registryPom = resolve(projectRoot, 'infra/registry/pom.xml');
export const registryMavenSettings = resolve(projectRoot, 'infra/registry/settings.xml');
export const registryJar = resolve(projectRoot, 'infra/registry/target/apicurio-registry/apicurio-registry-app-3.0.9-runner.jar');
