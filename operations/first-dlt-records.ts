/**
 * The first `limit` dead letters by partition and offset, out of records visited in any order, holding at most
 * twice `limit` of them at a time: a listing of 100 records from a DLT of millions keeps 200 in memory, not the
 * whole topic (each with its payload) until the read ends.
 */
import { compareDltRecords, type DltRecord } from './dlt-record.ts';

export class FirstDltRecords {
  private readonly limit: number;
  private records: DltRecord[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Records held now (at most twice the limit, once past it). */
  get held(): number {
    return this.records.length;
  }

  add(record: DltRecord): void {
    this.records.push(record);
    // Sorting and cutting once the list doubles keeps the work O(n log limit) over the read.
    if (this.records.length >= 2 * this.limit && this.limit !== Infinity) this.trim();
  }

  /** The first `limit` records visited, sorted by partition and offset. */
  result(): DltRecord[] {
    this.trim();
    return this.records;
  }

  private trim(): void {
    this.records.sort(compareDltRecords);
    if (this.records.length > this.limit) this.records = this.records.slice(0, this.limit);
  }
}
