/**
 * kafkajs 2.2.4 schedules its request queue's throttle check with `setTimeout(fn, throttledUntil - now)`, and
 * `throttledUntil` is -1 when the broker never throttled: a negative delay on every such call. Node treats it as
 * 1 ms and prints a `TimeoutNegativeWarning` for it (kafkajs issue #1751), which floods the output of every
 * process that uses Kafka. This puts a copy of kafkajs's `scheduleCheckPendingRequests` in place whose delay is
 * at least 1 ms, what Node used anyway: the behaviour is unchanged, the warning gone. Installed once, by importing
 * kafka-client.ts; a unit test fails if kafkajs's method changes.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs's `CHECK_PENDING_REQUESTS_INTERVAL` (network/requestQueue/index.js). */
const checkPendingRequestsIntervalMs = 10;

interface RequestQueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

let installed = false;

/** Puts the clamped copy of `RequestQueue.prototype.scheduleCheckPendingRequests` in place. Idempotent. */
export function installRequestQueueTimer(): void {
  if (installed) return;
  installed = true;
  const RequestQueue = require(require.resolve('kafkajs/src/network/requestQueue/index.js')) as { prototype: { scheduleCheckPendingRequests(this: RequestQueueState): void } };
  // kafkajs 2.2.4 network/requestQueue/index.js, with the delay at least 1 ms.
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueState): void {
    let scheduleAt = this.throttledUntil - Date.now();
    if (!this.throttleCheckTimeoutId) {
      if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : checkPendingRequestsIntervalMs;
      this.throttleCheckTimeoutId = setTimeout(
        () => {
          this.throttleCheckTimeoutId = null;
          this.checkPendingRequests();
        },
        Math.max(1, scheduleAt),
      );
    }
  };
}
