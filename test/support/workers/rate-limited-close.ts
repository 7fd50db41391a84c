/**
 * A producer in its own process, for close tests: publishes one event, then a second that waits for a token of
 * a very slow rate limit (one per 50 s), closes the producer 50 ms later and prints `closed`. Nothing else is
 * left to do: the process should exit at once (an abandoned rate-limit wait once kept it alive until its timer).
 * Settings: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, TOPIC.
 */
import { createKafkaClient } from '../../../core/kafka-client.ts';
import { EventProducer } from '../../../producers/index.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

const [brokers, registryUrl, topic] = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'TOPIC'].map((name) => {
  const value = process.env[name];
  if (!value) throw new Error(`rate-limited-close needs ${name} in its environment`);
  return value;
}) as [string, string, string];

const schema = { type: 'record', name: 'CloseProbe', namespace: 'orderly.test', fields: [{ name: 'n', type: 'long' }] } as const;
const producer = new EventProducer({
  kafka: createKafkaClient({ brokers: brokers.split(','), clientId: 'rate-limited-close' }),
  registry: new SchemaRegistryClient({ url: registryUrl }),
  autoRegister: true,
  rateLimit: { eventsPerSecond: 0.02, burst: 1, onLimit: 'wait' },
});
await producer.publish({ topic, key: 'k', schema: schema as never, value: { n: 1 } });
const waiting = producer.publish({ topic, key: 'k', schema: schema as never, value: { n: 2 } }).then(
  () => 'written',
  (error: unknown) => (error as { code?: string }).code,
);
await new Promise((resolve) => setTimeout(resolve, 50));
await producer.close({ timeoutMs: 5_000 });
console.log(`closed; second publish: ${await waiting}`);
