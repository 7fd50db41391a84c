import type { Kafka, Message, ProducerConfig, RecordMetadata, TopicMessages } from '../../../core/kafka-client.ts';
import { SchemaRegistryClient } from '../../../schemas/schema-registry-client.ts';

interface PendingSend {
  topicMessages: TopicMessages[];
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A kafkajs stand-in: sends wait until the test acknowledges them; counts messages in flight and their peak. */
export class FakeKafka {
  config: ProducerConfig | undefined;
  readonly pending: PendingSend[] = [];
  readonly sent: Message[] = [];
  messagesInFlight = 0;
  peakMessagesInFlight = 0;
  disconnected = false;
  #offset = 0;

  asKafka(): Kafka {
    return { producer: (config: ProducerConfig) => this.#producer(config) } as unknown as Kafka;
  }

  /** Acknowledges the oldest pending send. */
  acknowledge(): void {
    this.pending.shift()?.resolve();
  }

  #producer(config: ProducerConfig) {
    this.config = config;
    const partitioner = config.createPartitioner?.();
    return {
      connect: async () => undefined,
      disconnect: async () => {
        this.disconnected = true;
      },
      sendBatch: ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
        const count = topicMessages.reduce((sum, topic) => sum + topic.messages.length, 0);
        this.messagesInFlight += count;
        this.peakMessagesInFlight = Math.max(this.peakMessagesInFlight, this.messagesInFlight);
        for (const { topic, messages } of topicMessages) {
          for (const message of messages) {
            partitioner?.({ topic, message, partitionMetadata: [{ partitionId: 0, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }] });
          }
        }
        return new Promise<RecordMetadata[]>((resolve, reject) => {
          this.pending.push({
            topicMessages,
            resolve: () => {
              this.messagesInFlight -= count;
              const baseOffset = this.#offset;
              this.#offset += count;
              for (const topic of topicMessages) this.sent.push(...topic.messages);
              resolve(topicMessages.map(({ topic }) => ({ topicName: topic, partition: 0, errorCode: 0, baseOffset: String(baseOffset) })));
            },
            reject: (error) => {
              this.messagesInFlight -= count;
              reject(error);
            },
          });
        });
      },
    };
  }
}

/** A registry client on a fake fetch: every subject answers id 7 (or 404 when `missing`). */
export function fakeRegistry(calls: string[] = [], missing = false): SchemaRegistryClient {
  return new SchemaRegistryClient({
    url: 'http://registry.test',
    fetch: (async (url: string, init: RequestInit) => {
      calls.push(`${init.method} ${new URL(url).pathname}`);
      if (missing) return new Response(JSON.stringify({ error_code: 40403, message: 'Schema not found' }), { status: 404 });
      return new Response(JSON.stringify({ id: 7 }), { status: 200 });
    }) as typeof fetch,
  });
}

/** Lets pending promise chains run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}
