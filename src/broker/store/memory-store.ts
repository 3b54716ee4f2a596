import type { LogStore, TopicLog, TopicSnapshot } from './types.js';

/**
 * Memory-only storage for a node started without a data directory (quick
 * experiments). Same segment accounting as the file store, nothing on disk.
 */
class MemoryTopicLog implements TopicLog {
  readonly name: string;
  readonly #owner: MemoryStore;
  readonly #segmentEntries: number;
  /** Entries from index `#base` on (the ones before were consumed and let go). */
  #entries: Buffer[] = [];
  #base = 0;
  #cursor = 0;
  /** Entries below this index have been dropped (consumed and past any lease hold). */
  #freed = 0;
  #hold: number | undefined;

  constructor(name: string, owner: MemoryStore, segmentEntries: number) {
    this.name = name;
    this.#owner = owner;
    this.#segmentEntries = segmentEntries;
  }

  get #total(): number {
    return this.#base + this.#entries.length;
  }

  append(payload: Uint8Array): void {
    this.#entries.push(Buffer.from(payload));
    this.#owner.changed(this.#total % this.#segmentEntries === 0);
  }

  appendBatch(payloads: readonly Uint8Array[]): void {
    for (const payload of payloads) this.append(payload);
  }

  read(): Buffer | undefined {
    if (this.#cursor >= this.#total) return undefined;
    const entry = this.#entries[this.#cursor++ - this.#base]!;
    this.#free();
    this.#owner.changed(false);
    return entry;
  }

  readBatch(maxEntries: number, accept: (length: number, index: number) => boolean): Buffer[] {
    const out: Buffer[] = [];
    while (out.length < maxEntries && this.#cursor < this.#total) {
      const entry = this.#entries[this.#cursor - this.#base]!;
      if (!accept(entry.length, out.length)) break;
      this.#cursor++;
      out.push(entry);
    }
    if (out.length > 0) {
      this.#free();
      this.#owner.changed(false);
    }
    return out;
  }

  get readPosition(): number {
    return this.#cursor;
  }

  readAt(index: number): Buffer {
    if (index < this.#freed || index >= this.#total) throw new RangeError(`topic ${this.name} no longer holds entry ${index}`);
    return this.#entries[index - this.#base]!;
  }

  holdCursor(position: number | undefined): void {
    this.#hold = position;
    this.#free();
  }

  /**
   * Drops entries nobody can be given again: below the cursor and below any lease hold. Their slots go
   * too, now and then: kept, they cost 8 bytes for every entry ever written, so a memory-only node
   * whose readers kept up still grew without bound.
   */
  #free(): void {
    const upTo = Math.min(this.#hold ?? this.#cursor, this.#cursor);
    while (this.#freed < upTo) this.#entries[this.#freed++ - this.#base] = EMPTY;
    const drop = this.#freed - this.#base;
    if (drop >= 1024 && drop * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(drop);
      this.#base = this.#freed;
    }
  }

  snapshot(): TopicSnapshot {
    const total = this.#total;
    const sealedCount = Math.floor(total / this.#segmentEntries);
    const sealed: Array<readonly [number, number]> = [];
    // Like the file store's: the segments it still holds an entry of (listing every one ever sealed cost a STATE O(all entries)).
    for (let s = Math.floor(this.#freed / this.#segmentEntries) + 1; s <= sealedCount; s++) sealed.push([s, this.#segmentEntries]);
    return {
      currentSegment: sealedCount + 1,
      sealed,
      sealedEntries: sealedCount * this.#segmentEntries,
      totalEntries: total,
      readCursor: this.#cursor,
      committedCursor: this.#hold ?? this.#cursor,
    };
  }
}

const EMPTY = Buffer.alloc(0);

export class MemoryStore implements LogStore {
  readonly #topics = new Map<string, MemoryTopicLog>();
  readonly #segmentEntries: number;
  #seq = 0;
  #sealed = 0;

  constructor(segmentEntries: number) {
    this.#segmentEntries = segmentEntries;
  }

  /** @internal called by the topic logs. */
  changed(sealedSegment: boolean): void {
    this.#seq++;
    if (sealedSegment) this.#sealed++;
  }

  topic(name: string): TopicLog | undefined {
    return this.#topics.get(name);
  }

  register(name: string): TopicLog {
    let log = this.#topics.get(name);
    if (!log) {
      log = new MemoryTopicLog(name, this, this.#segmentEntries);
      this.#topics.set(name, log);
      this.#seq++;
    }
    return log;
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  get sealedSegmentCount(): number {
    return this.#sealed;
  }

  get changeSeq(): number {
    return this.#seq;
  }

  flush(): number {
    return this.#seq;
  }

  async sync(): Promise<number> {
    return this.#seq;
  }

  async close(): Promise<void> {
    this.#topics.clear();
  }
}
