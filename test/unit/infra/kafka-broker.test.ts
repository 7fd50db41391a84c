import { describe, expect, it } from 'vitest';
import { brokerProperties, newClusterId, replicationOf } from '../../../infra/stack/kafka-broker.ts';

function parse(text: string): Map<string, string> {
  return new Map(text.trim().split('\n').map((line) => line.split('=', 2) as [string, string]));
}

describe('brokerProperties', () => {
  const properties = parse(brokerProperties({ dir: '/data/kafka', port: 19092, controllerPort: 19093 }));

  it('never lets the broker auto-create a topic', () => {
    expect(properties.get('auto.create.topics.enable')).toBe('false');
  });

  it('listens on loopback only, broker and controller in one KRaft node', () => {
    expect(properties.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(properties.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092');
    expect(properties.get('process.roles')).toBe('broker,controller');
    expect(properties.get('controller.quorum.voters')).toBe('1@127.0.0.1:19093');
  });

  it('gives the internal topics a replication factor one node can meet', () => {
    for (const name of ['offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr']) {
      expect(properties.get(name)).toBe('1');
    }
  });

  it('keeps its data in the folder it is given', () => {
    expect(properties.get('log.dirs')).toBe('/data/kafka/data');
  });
});

describe('brokerProperties with a SCRAM listener (the security smoke)', () => {
  const properties = parse(
    brokerProperties({ dir: '/data/kafka', port: 19092, controllerPort: 19093, sasl: { port: 19094, users: [{ username: 'u', password: 'p' }] }, autoCreateTopics: true }),
  );

  it('adds a SASL_PLAINTEXT listener beside the PLAINTEXT ones, SCRAM-SHA-256 and -512 enabled', () => {
    expect(properties.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_PLAINTEXT://127.0.0.1:19094');
    expect(properties.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092,SASL_PLAINTEXT://127.0.0.1:19094');
    expect(properties.get('listener.security.protocol.map')).toContain('SASL_PLAINTEXT:SASL_PLAINTEXT');
    expect(properties.get('sasl.enabled.mechanisms')).toBe('SCRAM-SHA-256,SCRAM-SHA-512');
    expect(properties.get('inter.broker.listener.name')).toBe('PLAINTEXT');
  });

  it('never writes a user password into the properties file', () => {
    expect([...properties.values()].join('\n')).not.toMatch(/password=p/);
  });

  it('turns auto-creation on only when asked', () => {
    expect(properties.get('auto.create.topics.enable')).toBe('true');
  });
});

describe('brokerProperties of a node in a three-node cluster', () => {
  const properties = parse(brokerProperties({ dir: '/data/kafka-2', port: 19292, controllerPort: 19293, cluster: { nodeId: 2, controllerPorts: [19193, 19293, 19393] } }));

  it('is node 2 of three combined broker+controller voters', () => {
    expect(properties.get('node.id')).toBe('2');
    expect(properties.get('process.roles')).toBe('broker,controller');
    expect(properties.get('controller.quorum.voters')).toBe('1@127.0.0.1:19193,2@127.0.0.1:19293,3@127.0.0.1:19393');
    expect(properties.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19292,CONTROLLER://127.0.0.1:19293');
  });

  it('keeps three copies, two in sync, and never elects a replica that fell out of sync', () => {
    expect(properties.get('default.replication.factor')).toBe('3');
    expect(properties.get('min.insync.replicas')).toBe('2');
    expect(properties.get('unclean.leader.election.enable')).toBe('false');
    for (const name of ['offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'share.coordinator.state.topic.replication.factor']) {
      expect(properties.get(name)).toBe('3');
    }
    expect(properties.get('transaction.state.log.min.isr')).toBe('2');
  });
});

describe('replicationOf', () => {
  it('asks 3 copies and 2 in sync from three nodes on, 1 and 1 below', () => {
    expect(replicationOf(1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(replicationOf(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });
});

describe('newClusterId', () => {
  it('never starts with "-" (kafka-storage format would read it as an option; one draw in 64 did)', () => {
    const ids = Array.from({ length: 5_000 }, () => newClusterId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
  });
});
