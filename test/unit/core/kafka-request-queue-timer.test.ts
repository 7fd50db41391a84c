import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '../../../core/kafka-client.ts';

const require = createRequire(import.meta.url);
const queuePath = require.resolve('kafkajs/src/network/requestQueue/index.js');
const RequestQueue = require(queuePath) as new (options: object) => {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function queue() {
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const created = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: true, clientId: 'test', broker: 'localhost:1', logger });
  const checks: number[] = [];
  created.checkPendingRequests = () => void checks.push(Date.now());
  return { created, checks };
}

describe("kafkajs's request queue timer", () => {
  it('schedules the throttle check of a never-throttled queue without a TimeoutNegativeWarning (kafkajs issue #1751)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const { created, checks } = queue();
      expect(created.throttledUntil).toBe(-1);
      created.scheduleCheckPendingRequests();
      await sleep(50);
      expect(checks).toHaveLength(1); // the check still runs, as with Node's 1 ms for a negative delay
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('TimeoutNegativeWarning');
  });

  it('keeps the throttled delay: a throttled queue is checked when its throttle ends, not before', async () => {
    const { created, checks } = queue();
    created.pending.push({});
    const startedAt = Date.now();
    created.throttledUntil = startedAt + 80;
    created.scheduleCheckPendingRequests();
    created.scheduleCheckPendingRequests(); // one timer at a time
    for (let waited = 0; checks.length === 0 && waited < 5_000; waited += 20) await sleep(20);
    expect(checks).toHaveLength(1);
    // A lower bound only (a loaded machine runs timers late, never early).
    expect(checks[0]! - startedAt).toBeGreaterThanOrEqual(75);
  });

  it("replaces kafkajs 2.2.4's method as it is: the file still schedules with the unclamped delay (re-check on an upgrade)", () => {
    const source = readFileSync(queuePath, 'utf8');
    expect(source).toContain('let scheduleAt = this.throttledUntil - Date.now()');
    expect(source).toContain('scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL');
    expect(source).toContain('const CHECK_PENDING_REQUESTS_INTERVAL = 10');
    expect(source).toMatch(/this\.checkPendingRequests\(\)\s*\n\s*\}, scheduleAt\)/);
  });
});
