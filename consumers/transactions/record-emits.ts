/** The emits of a completed record, kept for its shard's Kafka transaction (`transactional: true`). */
import type { EncodedRecord } from '../../producers/outgoing-event.ts';

export interface RecordEmits {
  /** The emits of the attempt that succeeded, in call order, encoded. */
  records: EncodedRecord[];
  /** Called once the transaction that wrote them committed: writes the idempotency done marker (with a store). */
  committed?(): Promise<void>;
  /** Called when they are dropped uncommitted (the record comes again): gives the idempotency claim back. */
  dropped?(): void;
}
