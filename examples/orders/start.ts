/**
 * `npm run example:orders`: runs the orders example on the local stack (`npx orderly stack up`).
 *
 * 1. registers the schemas of ./schemas, subjects named after the records (`orderly schemas register --dir
 *    examples/orders/schemas --subject-name-strategy record` does the same);
 * 2. creates the topics (./topics.ts: the sources, their retry tiers and dead-letter topics) and checks them;
 * 3. starts orders-api and order-confirmer, each in its own process, and prints how to call the API once both
 *    are up. Ctrl-C (or SIGTERM) stops both.
 *
 * The stack's addresses come from the environment, else from the settings file `orderly stack up` wrote.
 * `ORDERS_API_TOKEN` is the API's bearer token (a random one when unset); `PORT` its port (3000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createKafkaClient, readSchemaDirectory, SchemaRegistryClient } from '../../index.ts';
import { checkDeclaredTopics, createDeclaredTopics, withReplicationDefaults } from '../../operations/index.ts';
import { defaultStackDir } from '../../infra/stack/stack-paths.ts';
import { readSettings } from '../../infra/stack/stack-settings.ts';
import { ordersSettings, subjectNameStrategy } from './settings.ts';
import { orderTopics } from './topics.ts';

const env: NodeJS.ProcessEnv = { ...(process.env.KAFKA_BROKERS ? {} : readSettings(defaultStackDir())), ...process.env };
env.ORDERS_API_TOKEN ||= randomBytes(18).toString('base64url');
env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1'; // kafkajs's notice about its v2 default, not about this example
if (!env.KAFKA_BROKERS) {
  console.error('no Kafka: start the local stack (`npx orderly stack up`) or set KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL and DATABASE_URL');
  process.exit(1);
}
const settings = ordersSettings(env);

const registry = new SchemaRegistryClient({ url: settings.schemaRegistryUrl });
for (const schema of readSchemaDirectory(fileURLToPath(new URL('schemas', import.meta.url)), { strategy: subjectNameStrategy })) {
  console.log(`schema   ${schema.file} -> ${schema.subject} id ${await registry.register(schema.subject, schema.text)}`);
}

const admin = createKafkaClient({ brokers: settings.kafkaBrokers, clientId: 'orders-example-setup' }).admin();
await admin.connect();
try {
  const declarations = withReplicationDefaults(orderTopics(settings), (await admin.describeCluster()).brokers.length);
  for (const topic of await createDeclaredTopics(admin, declarations)) console.log(`topic    created ${topic}`);
  const differences = await checkDeclaredTopics(admin, declarations);
  if (differences.length > 0) throw new Error(`the topics differ from their declaration:\n${differences.map((difference) => `  ${difference.message}`).join('\n')}`);
} finally {
  await admin.disconnect();
}

const services = new Map<string, ChildProcess>();
let stopping = false;

/** Starts a service; resolves with the line that says it is up (it starts with the service's name), rejects if it ends first. */
function startService(name: string, file: string): Promise<string> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  services.set(name, child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      console.log(`[${name}] ${line}`);
      if (line.startsWith(`${name} `)) resolve(line);
    });
    child.once('exit', (code, signal) => {
      services.delete(name);
      reject(new Error(`${name} ended (${code ?? signal}) before it was up`));
      if (!stopping) console.error(`${name} ended (${code ?? signal}): stopping the example`);
      stop(1);
    });
  });
}

function stop(exitCode: number): void {
  if (stopping) return;
  stopping = true;
  const left = [...services.values()];
  if (left.length === 0) process.exit(exitCode);
  for (const child of left) {
    child.once('exit', () => services.size === 0 && process.exit(exitCode));
    child.kill('SIGTERM');
  }
  setTimeout(() => {
    for (const child of services.values()) child.kill('SIGKILL');
    process.exit(exitCode || 1);
  }, 40_000).unref();
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

const started = await Promise.all([startService('orders-api', 'orders-api.ts'), startService('order-confirmer', 'order-confirmer.ts')]).catch((error: Error) => {
  console.error(error.message);
  stop(1);
});
if (started && !stopping) {
  const base = /http:\/\/\S+/.exec(started[0])?.[0] ?? `http://127.0.0.1:${settings.port}`;
  console.log(`
The orders example is running (Ctrl-C stops it). Token: ${env.ORDERS_API_TOKEN}
  curl -s -H 'authorization: Bearer ${env.ORDERS_API_TOKEN}' -H 'content-type: application/json' \\
    -d '{"customerId":"c-1","lines":[{"sku":"tea","quantity":2,"unitPriceCents":450}]}' ${base}/orders
  curl -s -H 'authorization: Bearer ${env.ORDERS_API_TOKEN}' ${base}/orders/<orderId>`);
}
