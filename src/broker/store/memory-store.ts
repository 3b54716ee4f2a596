import type { LogStore, TopicLog, TopicSnapshot } from './types.js';

/**
 * Memory-only storage for a node started without a data directory (quick
 * experiments). Same segment accounting as the file store, nothing on disk.
 */
class MemoryTopicLog implements TopicLog {
  readonly name: string;
  readonly #owner: MemoryStore;
  readonly #segmentEntries: number;
  #entries: Buffer[] = [];
  #cursor = 0;

  constructor(name: string, owner: MemoryStore, segmentEntries: number) {
    this.name = name;
    this.#owner = owner;
    this.#segmentEntries = segmentEntries;
  }

  append(payload: Uint8Array): void {
    this.#entries.push(Buffer.from(payload));
    this.#owner.changed(this.#entries.length % this.#segmentEntries === 0);
  }

  read(): Buffer | undefined {
    if (this.#cursor >= this.#entries.length) return undefined;
    const entry = this.#entries[this.#cursor]!;
    this.#entries[this.#cursor++] = EMPTY;
    this.#owner.changed(false);
    return entry;
  }

  readBatch(maxEntries: number, accept: (length: number, index: number) => boolean): Buffer[] {
    const out: Buffer[] = [];
    while (out.length < maxEntries && this.#cursor < this.#entries.length) {
      const entry = this.#entries[this.#cursor]!;
      if (!accept(entry.length, out.length)) break;
      this.#entries[this.#cursor++] = EMPTY;
      out.push(entry);
    }
    if (out.length > 0) this.#owner.changed(false);
    return out;
  }

  snapshot(): TopicSnapshot {
    const total = this.#entries.length;
    const sealedCount = Math.floor(total / this.#segmentEntries);
    const sealed: Array<readonly [number, number]> = [];
    for (let s = 1; s <= sealedCount; s++) sealed.push([s, this.#segmentEntries]);
    return {
      currentSegment: sealedCount + 1,
      sealed,
      sealedEntries: sealedCount * this.#segmentEntries,
      totalEntries: total,
      readCursor: this.#cursor,
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
