/**
 * A kafkajs partition assigner that gives partition p of every subscribed topic to the same member. A key
 * lives on the same partition number in its source topic, its retry tiers and its DLT (docs/guarantees.md), so one
 * member sees all of a key's records, and its lane and parking state stay in one process.
 * Partition numbers are dealt round-robin over the members sorted by id.
 */
import { AssignerProtocol, type PartitionAssigner } from '../../core/kafka-client.ts';

export const copartitionedAssignerName = 'OrderlyCopartitioned';

export function assignCopartitioned(memberIds: readonly string[], partitionsByTopic: ReadonlyMap<string, readonly number[]>): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const assignment = new Map<string, Record<string, number[]>>(members.map((id) => [id, {}]));
  const partitionNumbers = [...new Set([...partitionsByTopic.values()].flat())].sort((a, b) => a - b);
  partitionNumbers.forEach((partition, index) => {
    const member = assignment.get(members[index % members.length]!)!;
    for (const [topic, partitions] of partitionsByTopic) {
      if (partitions.includes(partition)) (member[topic] ??= []).push(partition);
    }
  });
  return assignment;
}

export const CopartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: copartitionedAssignerName,
  version: 1,
  async assign({ members, topics }) {
    const partitionsByTopic = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((metadata) => metadata.partitionId)]));
    const assignment = assignCopartitioned(members.map((member) => member.memberId), partitionsByTopic);
    return [...assignment].map(([memberId, topicPartitions]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topicPartitions, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return {
      name: copartitionedAssignerName,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
