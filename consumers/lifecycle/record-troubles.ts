/**
 * The last trouble of each record that had one (a failed or timed-out attempt, a failing forward), heard on
 * the consumer's events, so a stalled partition's report can say what its waiting record went through.
 * Bounded: the oldest entries go first; forgotten at a rebalance.
 */
import { partitionIdOf } from '../consumed-record.ts';
import type { ConsumerEventEmitter } from '../events.ts';

export class RecordTroubles {
  private readonly troubles = new Map<string, string>();
  private readonly max: number;

  constructor(events: ConsumerEventEmitter, { max = 1_000 } = {}) {
    this.max = max;
    events.on('consumer.record.failed', ({ topic, partition, offset, attempt, errorType, willRetry }) =>
      this.note(topic, partition, offset, `attempt ${attempt} failed (${errorType})${willRetry ? ', retried in place' : ''}`),
    );
    events.on('consumer.handler.timed-out', ({ topic, partition, offset, attempt, timeoutMs }) => this.note(topic, partition, offset, `attempt ${attempt} timed out after ${timeoutMs} ms`));
    events.on('consumer.forward.failed', ({ topic, partition, offset, errorType }) =>
      this.note(topic, partition, offset, `its forward to a retry tier or the dead-letter topic fails (${errorType}) and is retried`),
    );
  }

  of(partitionId: string, offset: string): string | undefined {
    return this.troubles.get(`${partitionId}@${offset}`);
  }

  clear(): void {
    this.troubles.clear();
  }

  private note(topic: string, partition: number, offset: string, text: string): void {
    const id = `${partitionIdOf(topic, partition)}@${offset}`;
    this.troubles.delete(id);
    this.troubles.set(id, text);
    if (this.troubles.size > this.max) this.troubles.delete(this.troubles.keys().next().value!);
  }
}
