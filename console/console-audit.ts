/**
 * The audit trail of the console's changes: who (the operator name given at login, the client address), what
 * (the action, group, topic, the records' positions and event ids or the key, the count confirmed) and when
 * (started, finished), with the outcome. Never a payload, a header value or a token. Each record is logged as
 * one JSON line (`audit: true`) when it starts and when it ends, and the latest are kept for the Audit page.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.ts';

export type AuditAction = 'dlt.replay' | 'dlt.purge' | 'keys.release';

export interface AuditRecord {
  id: string;
  action: AuditAction;
  operator: string;
  address: string;
  group: string;
  topic: string;
  /** What the operator confirmed: the number of records (or held entries) the dry run showed. */
  confirmed: number;
  /** `p<partition>@<offset>` of each record, or the key released. */
  targets: string[];
  startedAt: string;
  finishedAt?: string;
  outcome: 'running' | 'done' | 'failed';
  /** What was done (`replayed 2: 2 to orders`), or why it failed. */
  result?: string;
}

export class AuditTrail {
  private readonly records: AuditRecord[] = [];
  private readonly logger: Logger;
  private readonly keep: number;

  constructor(logger: Logger, keep = 200) {
    this.logger = logger;
    this.keep = keep;
  }

  begin(entry: Omit<AuditRecord, 'id' | 'startedAt' | 'outcome'>): AuditRecord {
    const record: AuditRecord = { id: randomUUID(), startedAt: new Date().toISOString(), outcome: 'running', ...entry };
    this.records.unshift(record);
    this.records.length = Math.min(this.records.length, this.keep);
    this.logger.info({ audit: true, ...record }, `console ${record.action} started`);
    return record;
  }

  finish(record: AuditRecord, outcome: 'done' | 'failed', result: string): void {
    record.outcome = outcome;
    record.result = result;
    record.finishedAt = new Date().toISOString();
    this.logger[outcome === 'done' ? 'info' : 'warn']({ audit: true, ...record }, `console ${record.action} ${outcome}`);
  }

  latest(): readonly AuditRecord[] {
    return this.records;
  }
}
