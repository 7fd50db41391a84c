/**
 * How a value's subject is named in the registry (Confluent's `value.subject.name.strategy`). One setting,
 * shared by the producer (`subjectNameStrategy`, the subject it registers or looks up), the consumer's codec
 * (`subjectNameStrategy`, the subject a writer id must belong to) and the CLI (`--subject-name-strategy`,
 * the subject `schemas check` and `register` use), all defaulting to {@link defaultSubjectNameStrategy}:
 * - `'topic'` (TopicNameStrategy, the default): `<topic>-value`. One schema lineage per topic.
 * - `'record'` (RecordNameStrategy): the record's full name, e.g. `orderly.ledger.FundsDeposited`. Several
 *   event types share a topic, each evolving on its own (the ledger example: one topic, four event types).
 * - `'topic-record'` (TopicRecordNameStrategy): `<topic>-<full name>`.
 */
export const subjectNameStrategies = ['topic', 'record', 'topic-record'] as const;

export type SubjectNameStrategy = (typeof subjectNameStrategies)[number];

/** A strategy and the topic it names subjects for (the topic may be unknown to the `'record'` strategy). */
export interface SubjectNaming {
  strategy: SubjectNameStrategy;
  /** The topic the records are produced to; required by the `'topic'` and `'topic-record'` strategies. */
  topic?: string;
}

/** The strategy of producer, codec and CLI when none is given: Confluent's default, `<topic>-value`. */
export const defaultSubjectNameStrategy: SubjectNameStrategy = 'topic';

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

/** Whether the strategy needs the topic to name a subject. */
export function strategyNeedsTopic(strategy: SubjectNameStrategy): boolean {
  return strategy !== 'record';
}

/** The CLI command that registers a record's schema under the subject this strategy names. */
export function registerCommandFor(strategy: SubjectNameStrategy, topic = '<topic>'): string {
  const topicFlag = strategyNeedsTopic(strategy) ? ` --topic ${topic}` : '';
  return `orderly schemas register --subject-name-strategy ${strategy}${topicFlag}`;
}
