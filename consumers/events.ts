/**
 * The instrumentation events of the ordered consumer, named component.noun.verb-in-past-tense. Observability
 * subscribes here (`consumer.events.on(name, listener)`); no payloads and no keys are carried.
 */
import { EventEmitter } from 'node:events';
import type { DeadLetterReason } from './dead-letter/reason-codes.ts';

interface RecordRef {
  topic: string;
  partition: number;
  offset: string;
}

export interface ConsumerEvents {
  'consumer.record.received': [RecordRef];
  'consumer.record.handled': [RecordRef & { durationMs: number; attempt: number; /** From `orderly-occurred-at`, epoch ms. */ occurredAt?: number }];
  'consumer.record.retried': [RecordRef & { /** The tier the record was sent to. */ tier: number }];
  'consumer.record.skipped-duplicate': [RecordRef];
  'consumer.record.failed': [RecordRef & { attempt: number; errorType: string; willRetry: boolean }];
  'consumer.record.dead-lettered': [RecordRef & { reason: DeadLetterReason }];
  'consumer.record.fenced': [RecordRef];
  /**
   * The record's idempotency claim is held by another holder (a member that died or lost the partition with
   * its lease alive): the record waits for the release or the end of the lease, at most `retryAfterMs` more
   * unless the holder renews. Once per wait. `holder` is that claim's fencing token (member/generation/claim).
   */
  'consumer.claim.waiting': [RecordRef & { retryAfterMs: number; holder?: string }];
  /** Not completed here (it comes again from the committed offset): the partition moved, the consumer stopped, or the store or broker failed. */
  'consumer.record.abandoned': [RecordRef & { reason: 'rebalanced' | 'stopping' | 'error' }];
  'consumer.handler.timed-out': [RecordRef & { attempt: number; timeoutMs: number }];
  'consumer.forward.failed': [RecordRef & { errorType: string }];
  /** Even the DLT stub of a record was rejected: its partition stops at it (not ready) until a forward succeeds. */
  'consumer.forward.stuck': [RecordRef & { errorType: string }];
  /** A stuck forward went through after all: the partition moves again. */
  'consumer.forward.recovered': [RecordRef];
  'consumer.offsets.committed': [{ offsets: RecordRef[] }];
  /**
   * `transactional: true`: a shard's transaction committed: `emits` events written, `offsets` committed with them
   * (as in `consumer.offsets.committed`), `durationMs` from its start to the commit's answer.
   */
  'consumer.transaction.committed': [{ transactionalId: string; emits: number; offsets: RecordRef[]; durationMs: number }];
  /** A shard's transaction failed and was aborted (`fenced`: another member initialised its id): the member starts again from the committed offsets. */
  'consumer.transaction.failed': [{ transactionalId: string; errorType: string; fenced: boolean }];
  'consumer.commit.failed': [{ errorType: string }];
  'consumer.partition.paused': [{ topic: string; partition: number }];
  'consumer.partition.resumed': [{ topic: string; partition: number }];
  /** The watermark has not moved for `stuckPartitionMs` while records wait: the record it waits on, and why. */
  'consumer.partition.stalled': [RecordRef & { waiting: number; stalledForMs: number; reason: string }];
  /** A partition reported stalled moves again (or left this member). */
  'consumer.partition.recovered': [{ topic: string; partition: number }];
  'consumer.group.rebalancing': [{ groupId: string }];
  'consumer.group.joined': [{ groupId: string; epoch: number; assignment: Record<string, number[]> }];
  /**
   * A rebalance ended without a join: the Kafka client's rejoin failed (as when the group coordinator moves to a
   * broker still loading the group) and it fetches again in its previous generation, so the member goes on with
   * the partitions of `epoch`. `rebalanceOpenForMs`: from the rebalance to the first fetch after it.
   */
  'consumer.group.resumed': [{ groupId: string; epoch: number; rebalanceOpenForMs: number }];
  /** A record batch that could not be decoded: the partition stops at it (`blocked`) or it goes to the DLT as a stub (`skipped`). */
  'consumer.batch.undecodable': [{ topic: string; partition: number; offset: string; lastOffset: string; codec: string; action: 'blocked' | 'skipped' }];
  /**
   * The Kafka client's consumer crashed and left the group. `restart`: `kafkajs` (it restarts itself), `member`
   * (the member restarts it after `restartInMs`), `none` (`restartOnCrash: false`: the member stops).
   */
  'consumer.client.crashed': [{ groupId: string; errorType: string; restart: 'kafkajs' | 'member' | 'none'; restartInMs?: number }];
  /**
   * The Kafka client's consumer neither joined nor fetched for `clientStallTimeoutMs`, without crashing (`reason`
   * `rebalance`: a rebalance began, no join followed; `fetch`), or its commits went to a group coordinator that is
   * no longer one for half that time (at most 30 s; `commit`), or a shard's transaction failed (`transaction`, with
   * `transactional: true`: the member starts again from the committed offsets). `restart`: `member` (stopped, then
   * started again with a backoff) or `none` (`restartOnCrash: false`: the member stops).
   */
  'consumer.client.stalled': [{ groupId: string; reason: 'rebalance' | 'fetch' | 'commit' | 'transaction'; stalledForMs: number; restart: 'member' | 'none' }];
}

export const consumerEventNames = [
  'consumer.record.received',
  'consumer.record.handled',
  'consumer.record.retried',
  'consumer.record.skipped-duplicate',
  'consumer.record.failed',
  'consumer.record.dead-lettered',
  'consumer.record.fenced',
  'consumer.claim.waiting',
  'consumer.record.abandoned',
  'consumer.handler.timed-out',
  'consumer.forward.failed',
  'consumer.forward.stuck',
  'consumer.forward.recovered',
  'consumer.offsets.committed',
  'consumer.transaction.committed',
  'consumer.transaction.failed',
  'consumer.commit.failed',
  'consumer.partition.paused',
  'consumer.partition.resumed',
  'consumer.partition.stalled',
  'consumer.partition.recovered',
  'consumer.group.rebalancing',
  'consumer.group.joined',
  'consumer.group.resumed',
  'consumer.batch.undecodable',
  'consumer.client.crashed',
  'consumer.client.stalled',
] as const satisfies readonly (keyof ConsumerEvents)[];

/**
 * The consumer's events. A listener that throws never reaches the code that emitted (a record in process, a
 * key's lane): every listener still runs, and the error goes to {@link ConsumerEventEmitter.onListenerError}.
 */
export class ConsumerEventEmitter extends EventEmitter<ConsumerEvents> {
  /** Called with a listener's error (the consumer logs it); listener errors never propagate. */
  onListenerError: (event: string, error: unknown) => void = () => undefined;
  /** Listener errors so far. */
  listenerErrors = 0;

  override emit<K extends keyof ConsumerEvents>(event: K, ...args: ConsumerEvents[K]): boolean {
    const listeners = this.rawListeners(event) as ((...values: unknown[]) => unknown)[];
    if (listeners.length === 0) return false;
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (error) {
        this.listenerErrors++;
        try {
          this.onListenerError(event, error);
        } catch {
          // the reporter itself failed: counted above, nothing more to do
        }
      }
    }
    return true;
  }
}
