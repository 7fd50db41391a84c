import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

/** The project root (this file lives in `infra/stack/`). */
export const projectRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Where the local stack keeps its data, logs and settings: `ORDERLY_STACK_DIR`, else `<project>/.orderly`. */
export function defaultStackDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.ORDERLY_STACK_DIR ?? resolve(projectRoot, '.orderly'));
}

/** The jars Maven fetches for the broker (`infra/kafka/pom.xml`). */
export const kafkaPom = resolve(projectRoot, 'infra/kafka/pom.xml');
export const kafkaLibsDir = resolve(projectRoot, 'infra/kafka/target/libs');
export const kafkaLog4jConfig = resolve(projectRoot, 'infra/kafka/log4j2.properties');

/** Apicurio Registry, fetched and unpacked by Maven (`infra/registry/pom.xml`). */
export const registryPom = resolve(projectRoot, 'infra/registry/pom.xml');
export const registryMavenSettings = resolve(projectRoot, 'infra/registry/settings.xml');
export const registryJar = resolve(projectRoot, 'infra/registry/target/apicurio-registry/apicurio-registry-app-3.0.9-runner.jar');
