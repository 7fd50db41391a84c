/**
 * Follows the records fetched and not completed (count and bytes), per partition and for the whole member, and
 * says which are above their high-water mark: a partition (or the member) turns pressured at its high mark and
 * stays so until it falls to its low mark. Pure: the consumer pauses and resumes fetching from what it says.
 */
export interface Watermarks {
  highRecords: number;
  lowRecords: number;
  highBytes: number;
  lowBytes: number;
}

interface Load {
  records: number;
  bytes: number;
  pressured: boolean;
}

export class BackpressureController {
  private readonly partitionMarks: Watermarks;
  private readonly memberMarks: Watermarks;
  private readonly partitions = new Map<string, Load>();
  private readonly topics = new Map<string, number>();
  private readonly member: Load = { records: 0, bytes: 0, pressured: false };

  constructor({ partition, member }: { partition: Watermarks; member: Watermarks }) {
    this.partitionMarks = partition;
    this.memberMarks = member;
  }

  /** A record was fetched and is now held. Returns true if a pressured state changed. */
  add(partitionId: string, topic: string, bytes: number): boolean {
    return this.apply(partitionId, topic, 1, bytes);
  }

  /** A held record completed or was dropped. Returns true if a pressured state changed. */
  remove(partitionId: string, topic: string, bytes: number): boolean {
    return this.apply(partitionId, topic, -1, -bytes);
  }

  /** Bytes held for a partition beyond its records (emits kept for a transaction): `bytes` < 0 releases them. */
  holdBytes(partitionId: string, topic: string, bytes: number): boolean {
    return this.apply(partitionId, topic, 0, bytes);
  }

  /** Moves held records from one topic's count to another's (a held retry joins its source topic once due). */
  moveTopic(from: string, to: string, records: number): void {
    this.topics.set(from, (this.topics.get(from) ?? 0) - records);
    this.topics.set(to, (this.topics.get(to) ?? 0) + records);
  }

  isPartitionPressured(partitionId: string): boolean {
    return this.partitions.get(partitionId)?.pressured ?? false;
  }

  get memberPressured(): boolean {
    return this.member.pressured;
  }

  /** Records held for a (source) topic, over its partitions and retry tiers. */
  recordsOfTopic(topic: string): number {
    return this.topics.get(topic) ?? 0;
  }

  memberLoad(): { records: number; bytes: number } {
    return { records: this.member.records, bytes: this.member.bytes };
  }

  partitionLoad(partitionId: string): { records: number; bytes: number } {
    const load = this.partitions.get(partitionId);
    return { records: load?.records ?? 0, bytes: load?.bytes ?? 0 };
  }

  private apply(partitionId: string, topic: string, records: number, bytes: number): boolean {
    let partition = this.partitions.get(partitionId);
    if (!partition) {
      partition = { records: 0, bytes: 0, pressured: false };
      this.partitions.set(partitionId, partition);
    }
    partition.records += records;
    partition.bytes += bytes;
    this.topics.set(topic, (this.topics.get(topic) ?? 0) + records);
    this.member.records += records;
    this.member.bytes += bytes;
    const partitionChanged = update(partition, this.partitionMarks);
    const memberChanged = update(this.member, this.memberMarks);
    if (partition.records === 0 && partition.bytes === 0 && !partition.pressured) this.partitions.delete(partitionId);
    return partitionChanged || memberChanged;
  }
}

function update(load: Load, marks: Watermarks): boolean {
  const before = load.pressured;
  if (!load.pressured && (load.records >= marks.highRecords || load.bytes >= marks.highBytes)) load.pressured = true;
  else if (load.pressured && load.records <= marks.lowRecords && load.bytes <= marks.lowBytes) load.pressured = false;
  return before !== load.pressured;
}
