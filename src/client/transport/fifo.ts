/**
 * A growable ring buffer used as the pending-reply queue of a connection.
 * `Array#shift` is O(n); with hundreds of requests in flight that shows up
 * in profiles, and replies are always taken from the head.
 */
export class Fifo<T> {
  #items: Array<T | undefined>;
  #head = 0;
  #size = 0;

  constructor(capacity = 16) {
    this.#items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#head + i) % this.#items.length]!;
  }

  #grow(): void {
    const bigger = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) bigger[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = bigger;
    this.#head = 0;
  }
}
