/**
 * The topics of one consumer group in memory: a log per topic partition and the group's committed offsets.
 * Producers append (acks=all is immediate here); a send can be made to fail.
 */
import type { IHeaders, Producer } from '../../core/kafka-client.ts';

export interface StoredRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

function idOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class FakeBroker {
  private readonly logs = new Map<string, StoredRecord[]>();
  private readonly committedOffsets = new Map<string, number>();
  /** The next sends fail (forward failures). */
  failNextSends = 0;

  append(topic: string, partition: number, record: Omit<StoredRecord, 'offset' | 'timestamp'>): StoredRecord {
    const log = this.log(topic, partition);
    const stored = { ...record, offset: log.length, timestamp: String(Date.now()) };
    log.push(stored);
    return stored;
  }

  log(topic: string, partition: number): StoredRecord[] {
    const id = idOf(topic, partition);
    let log = this.logs.get(id);
    if (!log) this.logs.set(id, (log = []));
    return log;
  }

  committed(topic: string, partition: number): number {
    return this.committedOffsets.get(idOf(topic, partition)) ?? 0;
  }

  commit(topic: string, partition: number, offset: number): void {
    this.committedOffsets.set(idOf(topic, partition), offset);
  }

  /** A producer on this broker; `observe` sees each record appended; `usable` false makes every send hang (a dead process). */
  producer(observe: (topic: string, record: StoredRecord) => void = () => undefined, usable: () => boolean = () => true): Producer {
    const send = async ({ topic, messages }: { topic: string; messages: { partition?: number; key?: Buffer | string | null; value: Buffer | string | null; headers?: IHeaders }[] }) => {
      if (!usable()) return new Promise<never>(() => undefined);
      if (this.failNextSends > 0) {
        this.failNextSends--;
        throw new Error('KafkaJSNumberOfRetriesExceeded (injected forward fault)');
      }
      for (const message of messages) {
        const stored = this.append(topic, message.partition ?? 0, {
          key: message.key === undefined || message.key === null ? null : Buffer.from(message.key),
          value: message.value === null ? null : Buffer.from(message.value),
          headers: { ...(message.headers ?? {}) },
        });
        observe(topic, stored);
      }
      return [];
    };
    return { send, connect: async () => undefined, disconnect: async () => undefined } as unknown as Producer;
  }
}
