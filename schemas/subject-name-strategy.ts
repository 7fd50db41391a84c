/**
 * How a value's subject is named in the registry (Confluent's `value.subject.name.strategy`):
 * - `'topic'` (TopicNameStrategy, the default): `<topic>-value`. One schema lineage per topic.
 * - `'record'` (RecordNameStrategy): the record's full name, e.g. `orderly.ledger.FundsDeposited`. Several
 *   event types share a topic, each evolving on its own (the ledger example: one topic, four event types).
 * - `'topic-record'` (TopicRecordNameStrategy): `<topic>-<full name>`.
 */
export const subjectNameStrategies = ['topic', 'record', 'topic-record'] as const;

export type SubjectNameStrategy = (typeof subjectNameStrategies)[number];

export function subjectName(strategy: SubjectNameStrategy, topic: string, recordFullName: string): string {
  switch (strategy) {
    case 'topic':
      return `${topic}-value`;
    case 'record':
      return recordFullName;
    case 'topic-record':
      return `${topic}-${recordFullName}`;
  }
}
