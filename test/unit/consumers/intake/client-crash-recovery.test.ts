import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Consumer } from '../../../../core/kafka-client.ts';
import { ConsumerEventEmitter } from '../../../../consumers/events.ts';
import { ClientCrashRecovery } from '../../../../consumers/intake/client-crash-recovery.ts';
import { OrderlyError } from '../../../../core/errors.ts';

/** The part of a kafkajs consumer the recovery uses: `on(CRASH)`. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const consumer = {
    events: { CRASH: 'consumer.crash' },
    on: (name: string, listener: (event: unknown) => void) => {
      emitter.on(name, listener);
      return () => emitter.off(name, listener);
    },
  } as unknown as Consumer;
  const crash = (error: Error, restart: boolean) => emitter.emit('consumer.crash', { payload: { error, groupId: 'g', restart } });
  return { consumer, crash };
}

function setup({ restartOnCrash = true, restart = async () => undefined, stopClient = async () => undefined, groupInstanceId = undefined as string | undefined } = {}) {
  const { consumer, crash } = fakeConsumer();
  const events = new ConsumerEventEmitter();
  const crashes: unknown[] = [];
  events.on('consumer.client.crashed', (event) => crashes.push(event));
  const stalls: unknown[] = [];
  events.on('consumer.client.stalled', (event) => stalls.push(event));
  const calls = { lost: 0, restarts: 0, stops: 0, gaveUp: [] as Error[] };
  const recovery = new ClientCrashRecovery({
    groupId: 'g',
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    restartOnCrash,
    consumer,
    logger: pino({ level: 'silent' }),
    events,
    restart: async () => {
      calls.restarts++;
      await restart();
    },
    onClientLost: () => calls.lost++,
    onGiveUp: (error) => calls.gaveUp.push(error),
    isRunning: () => true,
    stopClient: async () => {
      calls.stops++;
      await stopClient();
    },
    stopClientTimeoutMs: 15_000,
  });
  return { recovery, crash, crashes, stalls, calls };
}

const refused = Object.assign(new Error('The group member protocol is not compatible'), { name: 'KafkaJSProtocolError', type: 'INCONSISTENT_GROUP_PROTOCOL' });

afterEach(() => vi.useRealTimers());

describe('ClientCrashRecovery', () => {
  it('a retriable crash: reported, partitions forgotten, kafkajs restarts it; ready again after the join', () => {
    const { recovery, crash, crashes, calls } = setup();
    crash(new Error('retries exhausted'), true);
    expect(crashes).toEqual([{ groupId: 'g', errorType: 'Error', restart: 'kafkajs' }]);
    expect(calls).toMatchObject({ lost: 1, restarts: 0 });
    expect(recovery.health().reasons[0]).toMatch(/crashed \(Error: retries exhausted\); the Kafka client restarts it/);
    recovery.joined();
    expect(recovery.health()).toEqual({ ready: true, reasons: [] });
    recovery.stop();
  });

  it('a non-retriable crash: restarted after a backoff that doubles while the restarts keep failing, reset by a join', async () => {
    vi.useFakeTimers();
    // No jitter here (the backoff is 0.8-1.2x its base): the windows below are exact, 1 s then 2 s.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { recovery, crash, crashes, calls } = setup({ restart: () => Promise.reject(new Error('broker unreachable')) });
    crash(refused, false);
    const first = (crashes[0] as { restartInMs: number }).restartInMs;
    expect(first).toBeGreaterThanOrEqual(800);
    expect(first).toBeLessThanOrEqual(1_200);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(calls.restarts).toBe(1);
    await vi.advanceTimersByTimeAsync(1_500); // the second waits 2 s
    expect(calls.restarts).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.restarts).toBe(2);
    expect(recovery.health().ready).toBe(false);
    recovery.joined();
    crash(refused, false);
    expect((crashes[1] as { restartInMs: number }).restartInMs).toBeLessThanOrEqual(1_200);
    recovery.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.restarts).toBe(2); // stopped: no restart after stop()
    random.mockRestore();
  });

  it('restartOnCrash false: the member gives up with CLIENT_CRASHED', () => {
    const { crash, crashes, calls } = setup({ restartOnCrash: false });
    crash(refused, false);
    expect(crashes).toEqual([{ groupId: 'g', errorType: 'INCONSISTENT_GROUP_PROTOCOL', restart: 'none' }]);
    expect(calls.gaveUp).toHaveLength(1);
    expect(calls.gaveUp[0]).toMatchObject({ code: 'CLIENT_CRASHED', message: expect.stringContaining('restartOnCrash is false') as unknown });
  });

  it('a stall (no crash): reported, partitions forgotten, the client stopped, then restarted with the backoff; ready again after the join', async () => {
    vi.useFakeTimers();
    const { recovery, stalls, calls } = setup();
    recovery.stalled({ reason: 'rebalance', stalledForMs: 60_000 });
    expect(stalls).toEqual([{ groupId: 'g', reason: 'rebalance', stalledForMs: 60_000, restart: 'member' }]);
    expect(calls).toMatchObject({ lost: 1, stops: 1, restarts: 0 });
    expect(recovery.isDown).toBe(true);
    expect(recovery.health().reasons[0]).toMatch(/the Kafka client consumer stalled \(CLIENT_STALLED: no join for 60000 ms after a rebalance began, and no fetch\)/);
    recovery.stalled({ reason: 'rebalance', stalledForMs: 70_000 }); // already down: not reported twice
    expect(stalls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(calls.restarts).toBe(1);
    recovery.joined();
    expect(recovery.health()).toEqual({ ready: true, reasons: [] });
    recovery.stop();
  });

  it('a stalled client that does not stop within the bound: the member gives up with CLIENT_STALLED (its process is to be restarted)', async () => {
    vi.useFakeTimers();
    const { recovery, calls } = setup({ stopClient: () => new Promise(() => undefined) });
    recovery.stalled({ reason: 'fetch', stalledForMs: 61_000 });
    await vi.advanceTimersByTimeAsync(14_999);
    expect(calls.gaveUp).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.gaveUp).toHaveLength(1);
    expect(calls.gaveUp[0]).toMatchObject({ code: 'CLIENT_STALLED', message: expect.stringContaining('did not stop within 15000 ms') as unknown });
    expect(calls.restarts).toBe(0);
  });

  it('a static member fenced by another with its groupInstanceId: no restart whatever restartOnCrash says, the member gives up with INSTANCE_FENCED', async () => {
    vi.useFakeTimers();
    const { recovery, crash, crashes, calls } = setup({ groupInstanceId: 'worker-1' });
    const fenced = Object.assign(new Error('The broker rejected this static consumer since another consumer with the same group instance id has registered with a different member id'), {
      name: 'KafkaJSProtocolError',
      type: 'FENCED_INSTANCE_ID',
    });
    // As kafkajs reports it after its retrier gave up on a non-retriable error.
    crash(Object.assign(new Error(fenced.message), { name: 'KafkaJSNonRetriableError', cause: fenced }), false);
    expect(crashes).toEqual([{ groupId: 'g', errorType: 'FENCED_INSTANCE_ID', restart: 'none' }]);
    expect(calls.gaveUp).toHaveLength(1);
    expect(calls.gaveUp[0]).toMatchObject({ code: 'INSTANCE_FENCED', message: expect.stringContaining('another consumer joined with groupInstanceId "worker-1"') as unknown });
    expect(recovery.health()).toEqual({ ready: false, reasons: [expect.stringMatching(/crashed \(FENCED_INSTANCE_ID: .*\); fenced: another consumer joined group g with groupInstanceId "worker-1"/) as unknown] });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.restarts).toBe(0);
  });

  it('a configuration the cluster refuses (OrderlyError CONFIGURATION): the member gives up with that error, never restarts', async () => {
    vi.useFakeTimers();
    const { crash, crashes, calls } = setup();
    const refusal = new OrderlyError('CONFIGURATION', 'the broker supports JoinGroup up to v4, and static membership needs v5');
    crash(refusal, false);
    expect(crashes).toEqual([{ groupId: 'g', errorType: 'OrderlyError', restart: 'none' }]);
    expect(calls.gaveUp).toEqual([refusal]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.restarts).toBe(0);
  });

  it('a stall with restartOnCrash false: the member gives up at once', () => {
    const { recovery, stalls, calls } = setup({ restartOnCrash: false });
    recovery.stalled({ reason: 'fetch', stalledForMs: 61_000 });
    expect(stalls).toEqual([{ groupId: 'g', reason: 'fetch', stalledForMs: 61_000, restart: 'none' }]);
    expect(calls.gaveUp[0]).toMatchObject({ code: 'CLIENT_STALLED', message: expect.stringContaining('restartOnCrash is false') as unknown });
  });
});
