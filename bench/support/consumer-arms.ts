/**
 * The consumer arms the benches compare. Each runs with a fresh group on a pre-filled topic and is timed from
 * its first record (first batch, or first handler call) to the `events`-th record done, so the group join and
 * the first fetch fall outside every arm alike.
 */
import type { Kafka } from '../../core/kafka-client.ts';
import { OrderedConsumer } from '../../consumers/ordered-consumer.ts';
import type { OrderedConsumerOptions } from '../../consumers/options.ts';
import { uniqueName } from './bench-kit.ts';

export interface ArmRun {
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

const timeoutMs = Number(process.env.BENCH_ARM_TIMEOUT_MS ?? 600_000);

/** Raw kafkajs: `eachBatch`, no-op per message, auto-resolve and auto-commit (kafkajs defaults). */
export async function runRawKafkajs(kafka: Kafka, topic: string, events: number): Promise<ArmRun> {
  const consumer = kafka.consumer({ groupId: uniqueName('bench-raw'), allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  let firstAt = 0;
  const finished = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raw kafkajs: ${count} of ${events} in ${timeoutMs} ms`)), timeoutMs);
    void consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (firstAt === 0) firstAt = performance.now();
        for (const message of batch.messages) {
          count += 1;
          resolveOffset(message.offset);
          if (count === events) {
            clearTimeout(timer);
            resolve(performance.now());
          }
        }
        await heartbeat();
      },
    });
  });
  try {
    const endAt = await finished;
    const seconds = (endAt - firstAt) / 1000;
    return { events, seconds, eventsPerSecond: events / seconds };
  } finally {
    await consumer.disconnect();
  }
}

/**
 * An OrderedConsumer with a fresh group and the given options; `handler` is wrapped to count completions.
 * Stops it (outside the timing) once `events` handler calls completed.
 */
export async function runOrderly<T>(
  options: Omit<OrderedConsumerOptions<T>, 'groupId'> & { groupId?: string },
  events: number,
  hooks: { onJoined?: () => void; onCreated?: (consumer: OrderedConsumer<T>) => () => void } = {},
): Promise<ArmRun> {
  let count = 0;
  let firstAt = 0;
  let endAt = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const inner = options.handler;
  const consumer = new OrderedConsumer<T>({
    groupId: uniqueName('bench-orderly'),
    retryTiersMs: [],
    ...options,
    handler: async (event, context) => {
      if (firstAt === 0) firstAt = performance.now();
      await inner(event, context);
      count += 1;
      if (count === events) {
        endAt = performance.now();
        done();
      }
    },
  });
  if (hooks.onJoined) consumer.events.once('consumer.group.joined', hooks.onJoined);
  const detach = hooks.onCreated?.(consumer);
  await consumer.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([finished, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`orderly: ${count} of ${events} in ${timeoutMs} ms`)), timeoutMs)))]);
    const seconds = (endAt - firstAt) / 1000;
    return { events, seconds, eventsPerSecond: events / seconds };
  } finally {
    clearTimeout(timer);
    await consumer.stop();
    detach?.();
  }
}
