import { describe, expect, it } from 'vitest';
import { LocalStack } from '../../../infra/stack/local-stack.ts';
import { OrderlyError } from '../../../core/errors.ts';

const nodes = [1, 2, 3].map((nodeId) => ({ nodeId, port: 19_092 + 100 * nodeId, controllerPort: 19_093 + 100 * nodeId }));

describe('LocalStack node count (stack up --brokers)', () => {
  it('accepts 1 or 3 nodes, nothing else, and no SCRAM listener on a cluster', () => {
    expect(() => new LocalStack({ dir: '/nowhere', brokers: 2 })).toThrow(/--brokers must be 1 or 3, not 2/);
    expect(() => new LocalStack({ dir: '/nowhere', brokers: 3, security: { kafkaUsers: [{ username: 'u', password: 'p' }] } })).toThrow(OrderlyError);
  });

  it('keeps what the folder holds when no count is given, and is 1 for a new folder', () => {
    expect(new LocalStack({ dir: '/nowhere' }).brokerCount({})).toBe(1);
    expect(new LocalStack({ dir: '/nowhere' }).brokerCount({ kafkaCluster: { clusterId: 'c', nodes } })).toBe(3);
    expect(new LocalStack({ dir: '/nowhere', brokers: 3 }).brokerCount({})).toBe(3);
  });

  it('refuses to mix: a one-node folder asked for three, or a three-node folder asked for one', () => {
    expect(() => new LocalStack({ dir: '/nowhere', brokers: 3 }).brokerCount({ kafka: { port: 19_092, controllerPort: 19_093 } })).toThrow(/holds a 1-node Kafka, not 3/);
    expect(() => new LocalStack({ dir: '/nowhere', brokers: 1 }).brokerCount({ kafkaCluster: { clusterId: 'c', nodes } })).toThrow(/stack down --purge/);
  });
});
