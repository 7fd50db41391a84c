/** A FIFO queue with O(1) push and shift (an array's shift is O(n) on long lanes). */
export class FifoQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** A queue holding `items` in order (the array is taken, not copied). */
  static of<T>(items: T[]): FifoQueue<T> {
    const queue = new FifoQueue<T>();
    queue.items = items;
    return queue;
  }

  /** The items in order, as a new array. */
  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      // Empty: start over at the front, so a queue used again (a reused key lane) never grows.
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Keeps the items for which `keep` is true, in order; returns those removed. */
  retain(keep: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (let index = this.head; index < this.items.length; index++) {
      const item = this.items[index] as T;
      (keep(item) ? kept : removed).push(item);
    }
    this.items = kept;
    this.head = 0;
    return removed;
  }

  /** The position of the first item `match` accepts (0 = the next to shift), or -1. Walks the queue. */
  findIndex(match: (item: T) => boolean): number {
    for (let index = this.head; index < this.items.length; index++) if (match(this.items[index] as T)) return index - this.head;
    return -1;
  }

  /** The item at a position (0 = the next to shift). */
  at(position: number): T | undefined {
    return position < 0 ? undefined : this.items[this.head + position];
  }
}
