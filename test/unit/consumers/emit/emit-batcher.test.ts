/**
 * The emit batcher: emits of one event-loop turn go out in one batch, emits made while a batch is on its way
 * in the next; a failed batch resolves what it wrote and rejects the rest; a batch refused for one malformed
 * event is sent again one by one, so only that event fails.
 */
import { describe, expect, it } from 'vitest';
import { OrderlyError } from '../../../../core/errors.ts';
import { EmitBatcher, type BatchingEmitProducer } from '../../../../consumers/emit/emit-batcher.ts';
import type { OutgoingEvent, PublishedEvent } from '../../../../producers/outgoing-event.ts';
import { MissingKeyError, PublishBatchError } from '../../../../producers/producer-errors.ts';

const published = (event: OutgoingEvent<unknown>, offset: number): PublishedEvent => ({ eventId: event.eventId!, topic: event.topic!, partition: 0, offset: String(offset) });
const event = (id: string, key = 'k'): OutgoingEvent<unknown> => ({ topic: 'b', key, eventId: id, schema: '"string"', value: id });

class FakeProducer implements BatchingEmitProducer {
  batches: string[][] = [];
  singles: string[] = [];
  #release: (() => void) | undefined;
  holdNext = false;
  failBatch: ((events: readonly OutgoingEvent<unknown>[]) => unknown) | undefined;

  async publish<V>(outgoing: OutgoingEvent<V>): Promise<PublishedEvent> {
    this.singles.push(outgoing.eventId!);
    if (outgoing.key === '') throw new MissingKeyError({ topic: 'b' });
    return published(outgoing as OutgoingEvent<unknown>, 0);
  }

  async publishBatch<V>(events: readonly OutgoingEvent<V>[]): Promise<PublishedEvent[]> {
    const list = events as readonly OutgoingEvent<unknown>[];
    this.batches.push(list.map((outgoing) => outgoing.eventId!));
    if (this.holdNext) {
      this.holdNext = false;
      await new Promise<void>((resolve) => (this.#release = resolve));
    }
    const failure = this.failBatch?.(list);
    if (failure) throw failure;
    return list.map((outgoing, index) => published(outgoing, index));
  }

  release(): void {
    this.#release?.();
  }
}

describe('EmitBatcher', () => {
  it('sends the emits of one turn in one batch, and those made while it is on its way in the next', async () => {
    const producer = new FakeProducer();
    const batcher = new EmitBatcher(producer);
    producer.holdNext = true;
    const first = ['a1', 'a2', 'a3'].map((id) => batcher.publish(event(id)));
    await new Promise((resolve) => setImmediate(resolve));
    const second = ['b1', 'b2'].map((id) => batcher.publish(event(id)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.batches).toEqual([['a1', 'a2', 'a3']]); // b1, b2 wait for the batch in flight
    producer.release();
    expect((await Promise.all([...first, ...second])).map((result) => result.eventId)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(producer.batches).toEqual([['a1', 'a2', 'a3'], ['b1', 'b2']]);
  });

  it('resolves what a failed batch wrote and rejects the rest with the cause', async () => {
    const producer = new FakeProducer();
    const cause = new OrderlyError('KAFKA', 'broker went away', { retriable: true });
    producer.failBatch = (events) => new PublishBatchError([published(events[0]!, 0)], events.slice(1), 1, cause);
    const batcher = new EmitBatcher(producer);
    const results = await Promise.allSettled(['a1', 'a2', 'a3'].map((id) => batcher.publish(event(id))));
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value.eventId : (result.reason as Error).message))).toEqual(['a1', 'broker went away', 'broker went away']);
    expect(producer.singles).toEqual([]);
  });

  it('sends a batch refused for one malformed event again one by one: only that event fails', async () => {
    const producer = new FakeProducer();
    producer.failBatch = (events) => (events.some((outgoing) => outgoing.key === '') ? new MissingKeyError({ topic: 'b' }) : undefined);
    const batcher = new EmitBatcher(producer);
    const results = await Promise.allSettled([batcher.publish(event('a1')), batcher.publish(event('bad', '')), batcher.publish(event('a3'))]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(MissingKeyError);
    expect(producer.singles).toEqual(['a1', 'bad', 'a3']);
  });

  it('an emit to a topic that does not exist fails alone: the emits to other topics in its batch are sent again without it', async () => {
    const producer = new FakeProducer();
    const missing = (events: readonly OutgoingEvent<unknown>[]) =>
      events.some((outgoing) => outgoing.topic === 'gone') ? new OrderlyError('KAFKA', 'publishing failed: topic gone does not exist (or has no leader)', { retriable: true }) : undefined;
    producer.failBatch = (events) => {
      const cause = missing(events);
      return cause && new PublishBatchError([], [...events], events.length, cause);
    };
    const batcher = new EmitBatcher(producer);
    const results = await Promise.allSettled([batcher.publish(event('a1')), batcher.publish({ ...event('lost'), topic: 'gone' }), batcher.publish(event('a3')), batcher.publish(event('c1', 'other'))]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/topic gone does not exist/);
  });
});
