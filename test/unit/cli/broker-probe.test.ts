/**
 * The CLI's broker probe covers every broker the cluster advertises, not only the bootstrap address: a
 * bootstrap broker that answers while the broker holding the partitions (advertised under another address)
 * does not fails in one line within `--timeout`, instead of a kafkajs stack after its retries.
 */
import { describe, expect, it } from 'vitest';
import { OrderlyError } from '../../../core/errors.ts';
import type { KafkaClientOptions } from '../../../core/kafka-client.ts';
import { probeBrokers } from '../../../cli/support/broker-probe.ts';

/** Clients whose connect answers per bootstrap address: 'ok', 'hang' (never answers) or an error. */
function fakeClients(behaviour: Record<string, 'ok' | 'hang' | Error>, advertised: { nodeId: number; host: string; port: number }[]) {
  const connected: string[] = [];
  const create = (options: KafkaClientOptions) => {
    const address = options.brokers.join(',');
    return {
      admin: () => ({
        connect: () => {
          connected.push(address);
          const answer = behaviour[address] ?? 'ok';
          if (answer === 'hang') return new Promise<void>(() => undefined);
          return answer === 'ok' ? Promise.resolve() : Promise.reject(answer);
        },
        describeCluster: () => Promise.resolve({ brokers: advertised, controller: advertised[0]?.nodeId ?? null, clusterId: 'c' }),
        disconnect: () => Promise.resolve(),
      }),
    };
  };
  return { connected, create: create as never };
}

describe('probeBrokers', () => {
  it('passes when the bootstrap broker and every advertised broker answer', async () => {
    const { connected, create } = fakeClients({}, [{ nodeId: 1, host: 'b1', port: 9092 }, { nodeId: 2, host: 'b2', port: 9092 }]);
    await probeBrokers('boot:9092', 2_000, create);
    expect(connected.sort()).toEqual(['b1:9092', 'b2:9092', 'boot:9092']);
  });

  it('fails in one line within the timeout when an advertised broker never answers', async () => {
    const { create } = fakeClients({ 'b2:9092': 'hang' }, [{ nodeId: 1, host: 'b1', port: 9092 }, { nodeId: 2, host: 'b2', port: 9092 }]);
    const started = performance.now();
    const error = await probeBrokers('boot:9092', 300, create).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrderlyError);
    expect((error as OrderlyError).code).toBe('STACK_UNAVAILABLE');
    expect((error as Error).message).toBe('Kafka broker 2 at b2:9092 (advertised by boot:9092) did not answer within 0.3 s (--timeout): no answer in time: the broker may be down, or a firewall or a wrong port is in the way');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('names an advertised broker that refuses connections', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:9092'), { code: 'ECONNREFUSED' });
    const { create } = fakeClients({ '10.0.0.9:9092': refused }, [{ nodeId: 3, host: '10.0.0.9', port: 9092 }]);
    await expect(probeBrokers('boot:9092', 2_000, create)).rejects.toThrow(/^Kafka broker 3 at 10\.0\.0\.9:9092 \(advertised by boot:9092\) is unreachable: nothing listens there/);
  });
});
