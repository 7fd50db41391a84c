/**
 * A broker frozen (SIGSTOP) mid-forward, on a broker of this test's own (never the shared one): the forward
 * times out, ambiguous, and the broker writes it once it thaws. kafkajs rolls the idempotent producer's
 * sequence number back after the failed send, so the next forward through the same producer reuses it and the
 * broker acknowledges it as a duplicate without writing it. The forwarder must replace its producer first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumedRecordOf } from '../../../consumers/consumed-record.ts';
import { ProducerForwarder } from '../../../consumers/dead-letter/dead-letter-publisher.ts';
import { createKafkaClient, type KafkaMessage } from '../../../core/kafka-client.ts';
import { createLogger } from '../../../core/logger.ts';
import { choosePort } from '../../../infra/stack/free-port.ts';
import { isAlive } from '../../../infra/stack/process-control.ts';
import { prepareBroker, startBroker, waitForBroker, type KafkaBrokerConfig } from '../../../infra/stack/kafka-broker.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ProducerForwarder against a frozen broker (issue 15, defect 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orderly-frozen-broker-'));
  let pid: number | undefined;
  let brokers = '';

  beforeAll(async () => {
    // choosePort(0) would say 0 is free: ask for a port in a range the shared stack does not use.
    const port = await choosePort(39_000 + Math.floor(Math.random() * 500));
    const controllerPort = await choosePort(39_600 + Math.floor(Math.random() * 300), new Set([port]));
    const config: KafkaBrokerConfig = { dir, port, controllerPort };
    prepareBroker(config);
    pid = startBroker(config);
    await waitForBroker(config, pid, 180_000);
    brokers = `127.0.0.1:${port}`;
  }, 200_000);

  afterAll(async () => {
    if (pid !== undefined && isAlive(pid)) {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
      for (let tries = 0; tries < 100 && isAlive(pid); tries++) await sleep(100);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the forward after an ambiguous timeout: none is acknowledged as a duplicate and lost', async () => {
    const kafka = createKafkaClient({ brokers: [brokers], clientId: 'frozen-forwarder', requestTimeoutMs: 2_000, connectionTimeoutMs: 1_000 });
    const admin = kafka.admin();
    await admin.connect();
    const topic = 'forwards';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const forwarder = new ProducerForwarder({
      createProducer: () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 } }),
      groupId: 'g',
      logger: createLogger(),
    });
    const record = (offset: number, value: string) =>
      consumedRecordOf({ offset: String(offset), key: Buffer.from('k'), value: Buffer.from(value), timestamp: '0', attributes: 0, headers: {} } as unknown as KafkaMessage, 'source', 'source', 0, 'source\u00000');
    const forward = (offset: number, value: string) => forwarder.forward(topic, record(offset, value), { attempt: 1, firstFailureAt: 0 }, record(offset, value));
    try {
      await forward(0, 'before');
      process.kill(pid!, 'SIGSTOP');
      await expect(forward(1, 'in-doubt')).rejects.toThrow();
      process.kill(pid!, 'SIGCONT');
      await sleep(3_000); // the broker writes what it had read before it froze
      for (let attempt = 0; ; attempt++) {
        try {
          await forward(2, 'after');
          break;
        } catch (error) {
          if (attempt > 20) throw error;
          await sleep(500);
        }
      }
      const values = await readValues(kafka, topic, 3);
      expect(values).toContain('before');
      expect(values).toContain('after');
    } finally {
      await forwarder.disconnect();
      await admin.disconnect();
    }
  }, 120_000);
});

/** Every value in the topic, once `count` records (or more) are there or 20 s passed. */
async function readValues(kafka: ReturnType<typeof createKafkaClient>, topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? '') });
  for (let waited = 0; waited < 20_000 && values.length < count; waited += 200) await sleep(200);
  await sleep(1_000);
  await consumer.disconnect();
  return values;
}
