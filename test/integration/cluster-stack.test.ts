/**
 * `orderly stack up --brokers 3` on a private stack in a temporary folder: three KRaft nodes on free ports,
 * `status` with one line per node, the registry journal with 3 replicas, `topics create` defaulting to RF 3 and
 * min ISR 2; then the leader of the busiest partition SIGKILLed while an EventProducer (acks=all, idempotent)
 * publishes: publishing continues on the new leader, every acknowledged event is read back, and `down` leaves no
 * process. Bringing a killed node back is the cluster chaos scenarios' part (test/chaos/cluster-*.chaos.ts).
 * Failed before the fix in core/complete-send.ts: kafkajs acknowledged a partition it never sent to.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LocalStack } from '../../infra/stack/local-stack.ts';
import { isAlive } from '../../infra/stack/process-control.ts';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { parseSettings } from '../../infra/stack/stack-settings.ts';
import { registryTopics } from '../../infra/stack/schema-registry.ts';
import { createKafkaClient } from '../../core/kafka-client.ts';
import { EventProducer } from '../../producers/event-producer.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { avroType } from '../../schemas/avro-type.ts';
import { createLogger } from '../../core/logger.ts';
import { testStack, uniqueName } from '../support/test-stack.ts';

const run = promisify(execFile);

const eventSchema = avroType({
  type: 'record',
  name: 'ClusterStackEvent',
  namespace: 'orderly.test',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'int' },
  ],
});

// Opt-in (ORDERLY_CLUSTER_TEST=1): it starts three Kafka JVMs, the registry and Redis of its own and took 99-113 s
// on the shared 2-core machine (load average ~20), over the default suite's ~90 s budget for one test.
describe('a three-node stack (stack up --brokers 3)', () => {
  it('replicates 3 ways, keeps every acknowledged event through a leader SIGKILL, and down stops every node', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orderly-cluster-'));
    const env: NodeJS.ProcessEnv = { ...process.env, ORDERLY_STACK_DIR: dir, DATABASE_URL: testStack().settings.DATABASE_URL };
    delete env.REDIS_URL;
    delete env.KAFKA_BROKERS;
    delete env.SCHEMA_REGISTRY_URL;
    const orderly = (...args: string[]) => run(process.execPath, ['cli/bin.ts', ...args], { cwd: projectRoot, env });
    const stack = new LocalStack({ dir, env });
    const logger = createLogger({ level: 'silent' });
    try {
      const settings = parseSettings((await orderly('stack', 'up', '--brokers', '3')).stdout);
      const brokers = settings.KAFKA_BROKERS!.split(',');
      expect(brokers).toHaveLength(3);
      const status = await orderly('stack', 'status', '--json');
      const kafkaNodes = (JSON.parse(status.stdout) as { service: string; node?: number; healthy: boolean }[]).filter(({ service }) => service === 'kafka');
      expect(kafkaNodes.map(({ node, healthy }) => ({ node, healthy }))).toEqual([1, 2, 3].map((node) => ({ node, healthy: true })));
      // A one-node `up` on a three-node folder is refused, not silently mixed.
      await expect(orderly('stack', 'up', '--brokers', '1')).rejects.toMatchObject({ stderr: expect.stringContaining('3-node Kafka') });

      const kafka = createKafkaClient({ brokers, clientId: uniqueName('cluster-test') });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const journal = (await admin.fetchTopicMetadata({ topics: [registryTopics.journal] })).topics[0]!;
        expect(journal.partitions[0]!.replicas).toHaveLength(3);

        // `topics create` with no replication flags: 3 copies and min ISR 2 on three brokers.
        const topic = uniqueName('cluster');
        const group = uniqueName('cluster-group');
        await orderly('topics', 'create', topic, '--group', group, '--partitions', '3', '--tiers', '0', '--brokers', settings.KAFKA_BROKERS!);
        const metadata = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!;
        expect(metadata.partitions.map(({ replicas }) => replicas.length)).toEqual([3, 3, 3]);
        const configs = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }], includeSynonyms: false });
        expect(configs.resources[0]!.configEntries.find(({ configName }) => configName === 'min.insync.replicas')?.configValue).toBe('2');

        const producer = new EventProducer({ kafka, registry: new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL! }), topic, autoRegister: true, logger });
        const acknowledged = new Map<string, string>(); // event id -> partition:offset the broker acknowledged
        let sequence = 0;
        let slowestPublishMs = 0;
        let failedPublishes = 0;
        const publishRound = async (count: number) => {
          const events = Array.from({ length: count }, () => {
            sequence++;
            const key = `key-${sequence % 30}`;
            return { key, eventId: `event-${sequence}`, schema: eventSchema, value: { key, sequence } };
          });
          const startedAt = Date.now();
          for (let attempt = 1; ; attempt++) {
            try {
              for (const published of await producer.publishBatch(events)) acknowledged.set(published.eventId, `${published.partition}:${published.offset}`);
              break;
            } catch (error) {
              // Same event ids on the retry: nothing is acknowledged twice under another name.
              failedPublishes++;
              if (attempt >= 10) throw error;
            }
          }
          slowestPublishMs = Math.max(slowestPublishMs, Date.now() - startedAt);
        };
        for (let round = 0; round < 5; round++) await publishRound(40);

        // The leader of partition 0 (the busiest: every partition gets a third of the keys) is SIGKILLed.
        const leader = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.find(({ partitionId }) => partitionId === 0)!.leader;
        const victim = stack.readState().kafkaCluster!.nodes.find(({ nodeId }) => nodeId === leader)!;
        process.kill(victim.pid!, 'SIGKILL');
        await expect.poll(() => isAlive(victim.pid!)).toBe(false);
        const killedAt = Date.now();
        for (let round = 0; round < 10; round++) await publishRound(40);
        console.error(`cluster test: leader ${leader} SIGKILLed; 10 rounds published ${Date.now() - killedAt} ms later`);
        const afterKill = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.find(({ partitionId }) => partitionId === 0)!;
        expect(afterKill.leader).not.toBe(leader);
        expect(afterKill.isr).not.toContain(leader);

        const statusAfterKill = await orderly('stack', 'status').catch((error: { code: number; stdout: string }) => error);
        expect(statusAfterKill).toMatchObject({ code: 1, stdout: expect.stringMatching(new RegExp(`kafka node ${leader}\\s+DOWN`)) });

        // Every acknowledged event is there to read.
        const seen = new Map<string, string>();
        const consumer = kafka.consumer({ groupId: uniqueName('cluster-reader') });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            const id = message.headers?.['orderly-event-id'];
            if (id) seen.set(id.toString(), `${partition}:${message.offset}`);
          },
        });
        const missing = () => [...acknowledged].filter(([id]) => !seen.has(id));
        await expect.poll(() => missing().length, { timeout: 60_000, interval: 500 }).toBe(0).catch(async (error: unknown) => {
          const ends = await admin.fetchTopicOffsets(topic);
          throw new Error(`acknowledged but not read: ${JSON.stringify(missing().slice(0, 20))}; topic end offsets ${JSON.stringify(ends)}`, { cause: error });
        });
        await consumer.disconnect();
        await producer.close();
        expect(acknowledged.size).toBe(sequence);
        console.error(`cluster test: ${acknowledged.size} acknowledged, ${failedPublishes} publish attempts failed and were retried, slowest round ${slowestPublishMs} ms`);

      } finally {
        await admin.disconnect();
      }

      const pids = stack.readState().kafkaCluster!.nodes.map(({ pid }) => pid!);
      await orderly('stack', 'down');
      for (const pid of pids) expect(isAlive(pid)).toBe(false);
    } finally {
      await stack.down({ purge: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
